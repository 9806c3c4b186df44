"""Time one training step of the seed's experiment, in one process:

- numpy floor: a hand-written NumPy step (forward, manual backward, the seed's optimizer over one
  flat parameter buffer) that allocates no array per step: every intermediate is preallocated and
  written with `out=`; the fastest this maths runs in NumPy,
- engine nn.MLP: `engine.nn.MLP` + `SeedAdamW`, the target computed outside the graph,
- engine seed vocabulary: the seed's `Matrix`/`LearnableParameter`/`VectorMatrixMultiply` graph,
  the target built in the graph as the seed does,

and, for the runs axis, R networks of width 64 trained as one `MLP.stacked` model against R single
`nn.MLP` models stepped one after another (time per run-step).

Every variant uses the loss Reduce(Square(prediction - target)), the same initial weights and inputs.
Prints the median microseconds per step and the ratio to the floor (to the R single models for the
runs row), all measured in the same run.

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
    Mean,
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
CONFIGS = [(1, 64), (1, 128), (1, 256), (256, 256)]  # (batch, width)
RUNS, RUNS_WIDTH = 16, 64


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
    """The step written by hand over preallocated arrays: no allocation of a large array per step."""

    def __init__(self, layers, batch):
        shapes = [array.shape for layer in layers for array in layer]
        offsets = np.cumsum([0, *[int(np.prod(shape)) for shape in shapes]])
        self.flat = np.concatenate([array.ravel() for layer in layers for array in layer])
        self.flat_grad = np.zeros_like(self.flat)

        def views(flat):
            return [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)]

        self.params, self.grads = views(self.flat), views(self.flat_grad)
        self.m1, self.m2 = np.zeros_like(self.flat), np.zeros_like(self.flat)
        self.t1, self.t2 = np.empty_like(self.flat), np.empty_like(self.flat)
        width = shapes[0][0]
        self.h = [np.empty((batch, width)) for _ in range(2)]
        self.a = [np.empty((batch, width)) for _ in range(2)]
        self.positive = [np.empty((batch, width), dtype=bool) for _ in range(2)]
        self.g = [np.empty((batch, width)) for _ in range(2)]
        self.scaled = np.empty((batch, width))
        self.out = np.empty((batch, 1))

    def leaky(self, h, a):
        np.multiply(h, SLOPE, out=self.scaled)
        np.maximum(h, self.scaled, out=a)

    def leaky_backward(self, g, positive, h):
        np.greater(h, 0, out=positive)
        np.multiply(g, SLOPE, out=self.scaled)
        np.copyto(self.scaled, g, where=positive)
        return self.scaled

    def step(self, x):
        w0, b0, w1, b1, w2, b2 = self.params
        gw0, gb0, gw1, gb1, gw2, gb2 = self.grads
        (h0, h1), (a0, a1), (p0, p1), (g0, g1) = self.h, self.a, self.positive, self.g
        np.matmul(x, w0.T, out=h0)
        h0 += b0
        self.leaky(h0, a0)
        np.matmul(a0, w1.T, out=h1)
        h1 += b1
        self.leaky(h1, a1)
        diff = self.out
        np.matmul(a1, w2.T, out=diff)
        diff += b2
        diff -= target(x)
        loss = float(np.dot(diff[:, 0], diff[:, 0]))

        diff *= 2.0
        np.matmul(diff.T, a1, out=gw2)
        np.sum(diff, axis=0, out=gb2)
        np.matmul(diff, w2, out=g1)
        g = self.leaky_backward(g1, p1, h1)
        np.matmul(g.T, a0, out=gw1)
        np.sum(g, axis=0, out=gb1)
        np.matmul(g, w1, out=g0)
        g = self.leaky_backward(g0, p0, h0)
        np.matmul(g.T, x, out=gw0)
        np.sum(g, axis=0, out=gb0)

        lr, (beta1, beta2), wd = OPTIMIZER["lr"], OPTIMIZER["betas"], OPTIMIZER["weight_decay"]
        grad, p, m1, m2, t1, t2 = self.flat_grad, self.flat, self.m1, self.m2, self.t1, self.t2
        m1 *= beta1
        np.multiply(grad, 1 - beta1, out=t1)
        m1 += t1
        m2 *= beta2
        np.multiply(grad, grad, out=t1)
        t1 *= 1 - beta2
        m2 += t1
        np.multiply(m1, m1, out=t1)
        np.subtract(m2, t1, out=t1)
        np.maximum(t1, 0.0, out=t1)
        np.sqrt(t1, out=t1)
        t1 += 1e-8
        np.multiply(m1, lr, out=t2)
        t2 /= t1
        p -= t2
        np.multiply(p, wd * lr, out=t2)
        p -= t2
        return loss


def set_parameters(parameters, layers):
    for p, value in zip(parameters, [a for layer in layers for a in layer], strict=True):
        p.values = value


class EngineMLP:
    def __init__(self, layers, batch):
        width = layers[0][0].shape[0]
        self.model = MLP(1, [width, width], 1, negative_slope=SLOPE)
        set_parameters(self.model.parameters(), layers)
        self.optimizer = SeedAdamW(self.model.parameters(), **OPTIMIZER)

    def step(self, x):
        loss = Reduce(Square(self.model(x) - Constant(target(x))))
        loss.backward()
        self.optimizer.step()
        return loss.item()


class EngineSeedVocabulary:
    def __init__(self, layers, batch):
        self.matrices = [Matrix(in_channels=w.shape[1], out_features=w.shape[0]) for w, _ in layers]
        self.biases = [LearnableParameter(shape=[b.shape[0]]) for _, b in layers]
        parameters = [p for pair in zip(self.matrices, self.biases, strict=True) for p in pair]
        set_parameters(parameters, layers)
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


class SingleModels:
    """R single nn.MLP models, stepped one after another on their own inputs."""

    def __init__(self, runs_layers):
        self.models = [EngineMLP(layers, 1) for layers in runs_layers]

    def step(self, xs):
        return [model.step(x) for model, x in zip(self.models, xs, strict=True)]


class EngineRuns:
    """The same R networks as one `MLP.stacked` model: parameters [R, ...], inputs [R, 1, 1]."""

    def __init__(self, runs_layers):
        width = runs_layers[0][0][0].shape[0]
        self.model = MLP.stacked(1, [width, width], 1, rngs=range(len(runs_layers)), negative_slope=SLOPE)
        per_run = [[a for layer in layers for a in layer] for layers in runs_layers]
        for i, p in enumerate(self.model.parameters()):
            p.values = np.stack([arrays[i] for arrays in per_run]).reshape(p.shape)
        self.optimizer = SeedAdamW(self.model.parameters(), **OPTIMIZER)

    def step(self, xs):
        losses = Mean(Square(self.model(xs) - Constant(target(xs))), axis=(1, 2))
        losses.backward(np.ones(losses.shape))
        self.optimizer.step()
        return losses.values.tolist()


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


def check_variants_agree(variants, inputs, steps=20):
    losses = np.array([[variant.step(x) for x in inputs[:steps]] for variant in variants])
    return float(np.max(np.abs(losses - losses[0]) / np.abs(losses[0])))


def row(batch, width, name, seconds, baseline):
    print(f"{batch:>5} {width:>5}  {name:<30} {seconds * 1e6:>9.1f} {seconds / baseline:>7.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough number in seconds)")
    args = parser.parse_args()
    repeats, steps_per_repeat = (5, 50) if args.quick else (21, 200)

    print(f"{'batch':>5} {'width':>5}  {'variant':<30} {'us/step':>9} {'x floor':>8}")
    for batch, width in CONFIGS:
        rng = np.random.default_rng(0)
        layers = initial_weights(width, rng)
        per_repeat = steps_per_repeat if batch == 1 else max(5, steps_per_repeat // 10)
        inputs = rng.uniform(-1.0, 1.0, (per_repeat * 4, batch, 1))
        steps = {name: variant(layers, batch).step for name, variant in VARIANTS.items()}
        seconds = median_step_seconds(steps, inputs, repeats, per_repeat)
        for name, median in seconds.items():
            row(batch, width, name, median, seconds["numpy floor"])
        agreement = check_variants_agree([variant(layers, batch) for variant in VARIANTS.values()], inputs)
        print(f"{'':>12}losses of the three over 20 steps agree to a relative {agreement:.1e}")

    if not hasattr(MLP, "stacked"):
        print(f"{'':>12}runs axis: not in this engine")
        return
    rng = np.random.default_rng(0)
    runs_layers = [initial_weights(RUNS_WIDTH, rng) for _ in range(RUNS)]
    inputs = rng.uniform(-1.0, 1.0, (steps_per_repeat * 4, RUNS, 1, 1))
    steps = {
        f"{RUNS} single nn.MLP": SingleModels(runs_layers).step,
        f"MLP.stacked R={RUNS}": EngineRuns(runs_layers).step,
    }
    seconds = {
        name: s / RUNS for name, s in median_step_seconds(steps, inputs, repeats, steps_per_repeat).items()
    }
    print(f"{'':>12}per run-step, x the {RUNS} single models:")
    for name, median in seconds.items():
        row(1, RUNS_WIDTH, name, median, seconds[f"{RUNS} single nn.MLP"])
    single, stacked = SingleModels(runs_layers), EngineRuns(runs_layers)
    same = all(single.step(x) == stacked.step(x) for x in inputs[:50])
    print(f"{'':>12}losses of the runs and the single models over 50 steps identical: {same}")


if __name__ == "__main__":
    main()
