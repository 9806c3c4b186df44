"""Time one training step of the seed's experiment three ways, in one process:

- numpy floor: a hand-written NumPy step (forward, manual backward, the seed's optimizer over one
  flat parameter buffer); the fastest this maths runs in NumPy,
- engine nn.MLP: `engine.nn.MLP` + `SeedAdamW`, the target computed outside the graph,
- engine seed vocabulary: the seed's `Matrix`/`LearnableParameter`/`VectorMatrixMultiply` graph,
  the target built in the graph as the seed does.

All three use the loss Reduce(Square(prediction - target)), the same initial weights and inputs.
Prints the median microseconds per step and the ratio to the floor.

    python benchmarks/engine_step.py [--quick]
"""

import argparse
import statistics
import time

import numpy as np

from engine import (
    Constant,
    LeakyRelu,
    LearnableParameter,
    Matrix,
    Reduce,
    Sin,
    Square,
    Variable,
    VectorMatrixMultiply,
)
from engine.nn import MLP
from engine.optim import SeedAdamW

SLOPE = 0.1
OPTIMIZER = dict(lr=1e-3, betas=(0.9, 0.9), weight_decay=1e-3)
CONFIGS = [(1, 64), (256, 256)]  # (batch, width)


def target(x):
    return x * x * 2.777 + 0.123 - x * x * x * 1.5 + np.sin(x * 4.0)


def initial_weights(width, rng):
    """[(weight [out, in], bias [out])] for layers 1 -> width -> width -> 1, PyTorch's default init."""
    widths = [1, width, width, 1]
    layers = []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        bound = 1 / np.sqrt(n_in)
        layers.append((rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)))
    return layers


class NumpyFloor:
    def __init__(self, layers):
        shapes = [array.shape for layer in layers for array in layer]
        sizes = [int(np.prod(shape)) for shape in shapes]
        self.flat = np.concatenate([array.ravel() for layer in layers for array in layer])
        self.flat_grad = np.zeros_like(self.flat)
        offsets = np.cumsum([0, *sizes])
        self.params = [
            self.flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
        ]
        self.grads = [
            self.flat_grad[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)
        ]
        self.m1, self.m2 = np.zeros_like(self.flat), np.zeros_like(self.flat)

    def step(self, x):
        w0, b0, w1, b1, w2, b2 = self.params
        gw0, gb0, gw1, gb1, gw2, gb2 = self.grads
        h0 = x @ w0.T + b0
        a0 = np.where(h0 > 0, h0, SLOPE * h0)
        h1 = a0 @ w1.T + b1
        a1 = np.where(h1 > 0, h1, SLOPE * h1)
        diff = a1 @ w2.T + b2 - target(x)
        loss = np.sum(diff * diff)

        g = 2.0 * diff
        np.matmul(g.T, a1, out=gw2)
        np.sum(g, axis=0, out=gb2)
        g = g @ w2
        g = np.where(h1 > 0, g, SLOPE * g)
        np.matmul(g.T, a0, out=gw1)
        np.sum(g, axis=0, out=gb1)
        g = g @ w1
        g = np.where(h0 > 0, g, SLOPE * g)
        np.matmul(g.T, x, out=gw0)
        np.sum(g, axis=0, out=gb0)

        lr, (beta1, beta2), wd = OPTIMIZER["lr"], OPTIMIZER["betas"], OPTIMIZER["weight_decay"]
        grad, p = self.flat_grad, self.flat
        self.m1 *= beta1
        self.m1 += grad * (1 - beta1)
        self.m2 *= beta2
        self.m2 += (grad * grad) * (1 - beta2)
        p -= lr * self.m1 / (np.sqrt(np.maximum(self.m2 - self.m1 * self.m1, 0.0)) + 1e-8)
        p -= wd * lr * p
        return loss


class EngineMLP:
    def __init__(self, layers):
        width = layers[0][0].shape[0]
        self.model = MLP(1, [width, width], 1, negative_slope=SLOPE)
        for p, value in zip(self.model.parameters(), [a for layer in layers for a in layer], strict=True):
            p.values = value
        self.optimizer = SeedAdamW(self.model.parameters(), **OPTIMIZER)

    def step(self, x):
        loss = Reduce(Square(self.model(x) - Constant(target(x))))
        loss.backward()
        self.optimizer.step()
        return loss.item()


class EngineSeedVocabulary:
    def __init__(self, layers):
        self.matrices = [Matrix(in_channels=w.shape[1], out_features=w.shape[0]) for w, _ in layers]
        self.biases = [LearnableParameter(shape=[b.shape[0]]) for _, b in layers]
        for (w, b), matrix, bias in zip(layers, self.matrices, self.biases, strict=True):
            matrix.values[...] = w
            bias.values[...] = b
        parameters = [p for pair in zip(self.matrices, self.biases, strict=True) for p in pair]
        self.optimizer = SeedAdamW(parameters=parameters, **OPTIMIZER)

    def eval_mlp(self, z):
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True)):
            z = VectorMatrixMultiply(tensor=z, matrix=matrix) + bias
            if i < len(self.matrices) - 1:
                z = LeakyRelu(z, negative_slope=SLOPE)
        return z

    @staticmethod
    def eval_target(x):
        return (
            Square(x) * Constant([2.777])
            + Constant([0.123])
            - x * x * x * Constant([1.5])
            + Sin(x * Constant([4.0]))
        )

    def step(self, x):
        x = Variable(x, name="x")
        loss = Reduce(Square(self.eval_mlp(x) - self.eval_target(x)))
        loss.backward()
        self.optimizer.step()
        return loss.item()


VARIANTS = {
    "numpy floor": NumpyFloor,
    "engine nn.MLP": EngineMLP,
    "engine seed vocabulary": EngineSeedVocabulary,
}


def median_step_seconds(steps, inputs, repeats, steps_per_repeat):
    """{name: median seconds per step}; the variants take turns within each repeat, so that a change
    in the machine's load falls on all of them alike."""
    times = {name: [] for name in steps}
    for r in range(repeats + 1):
        batch = inputs[(r * steps_per_repeat) % len(inputs) :][:steps_per_repeat]
        for name, step in steps.items():
            start = time.perf_counter()
            for x in batch:
                step(x)
            times[name].append((time.perf_counter() - start) / len(batch))
    return {name: statistics.median(seconds[1:]) for name, seconds in times.items()}  # the first is warm-up


def check_variants_agree(layers, inputs, steps=20):
    runners = [variant(layers) for variant in VARIANTS.values()]
    losses = np.array([[runner.step(x) for x in inputs[:steps]] for runner in runners])
    return float(np.max(np.abs(losses - losses[0]) / np.abs(losses[0])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough number in seconds)")
    args = parser.parse_args()
    repeats, steps_per_repeat = (5, 50) if args.quick else (21, 200)

    print(f"{'batch':>5} {'width':>5}  {'variant':<24} {'us/step':>9} {'x floor':>8}")
    for batch, width in CONFIGS:
        rng = np.random.default_rng(0)
        layers = initial_weights(width, rng)
        inputs = rng.uniform(-1.0, 1.0, (steps_per_repeat * 4, batch, 1))
        steps = {name: variant(layers).step for name, variant in VARIANTS.items()}
        seconds = median_step_seconds(steps, inputs, repeats, steps_per_repeat)
        floor = seconds["numpy floor"]
        for name, median in seconds.items():
            print(f"{batch:>5} {width:>5}  {name:<24} {median * 1e6:>9.1f} {median / floor:>7.2f}x")
        agreement = check_variants_agree(layers, inputs)
        print(f"{'':>12}losses of the three over 20 steps agree to a relative {agreement:.1e}")


if __name__ == "__main__":
    main()
