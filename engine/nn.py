"""Layers. A model's parameters are views into one flat buffer it owns, so that an optimizer updates
them all with a few vectorised ops (see `engine.optim`)."""

from itertools import pairwise

import numpy as np

from engine.graph import DEFAULT_DTYPE, Node, Parameter, Variable
from engine.ops import Affine, LeakyRelu, VectorMatrixMultiply


def _seed_init(rng, shape, fan_in):
    return rng.random(shape)


def _kaiming_init(rng, shape, fan_in):
    # PyTorch's default for nn.Linear, weight and bias alike: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


INITS = {"seed": _seed_init, "kaiming": _kaiming_init}


def share_one_buffer(parameters):
    """Move the parameters' values into one new flat array, each parameter keeping a view of its part."""
    flat = np.concatenate([p.value.ravel() for p in parameters])
    offset = 0
    for p in parameters:
        p.value = flat[offset : offset + p.value.size].reshape(p.value.shape)
        offset += p.value.size
    return flat


class Module:
    def named_parameters(self):
        """A list of (name, parameter node)."""
        raise NotImplementedError

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, x):
        if not isinstance(x, Node):
            x = Variable(x, name="x", dtype=self.dtype)
        return self.forward(x)


class Linear(Module):
    """`x @ weight.T + bias`, weight `[out_features, in_features]` (the seed's `Matrix` layout)."""

    def __init__(self, in_features, out_features, bias=True, init="kaiming", rng=None, dtype=DEFAULT_DTYPE):
        if init not in INITS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITS)}")
        rng = np.random.default_rng(rng)
        draw = INITS[init]
        self.dtype = np.dtype(dtype)
        self.weight = Parameter(draw(rng, (out_features, in_features), in_features), "weight", dtype)
        self.bias = Parameter(draw(rng, (out_features,), in_features), "bias", dtype) if bias else None
        share_one_buffer(self.parameters())

    def named_parameters(self):
        return [("weight", self.weight)] + ([("bias", self.bias)] if self.bias is not None else [])

    def forward(self, x):
        if self.bias is None:
            return VectorMatrixMultiply(x, self.weight)
        return Affine(x, self.weight, self.bias)


class MLP(Module):
    """Linear layers of widths `hidden` with LeakyReLU between them, none after the last."""

    def __init__(
        self,
        in_features,
        hidden,
        out_features,
        negative_slope=0.1,
        init="kaiming",
        rng=None,
        dtype=DEFAULT_DTYPE,
    ):
        rng = np.random.default_rng(rng)
        widths = [in_features, *np.atleast_1d(hidden).tolist(), out_features]
        self.dtype = np.dtype(dtype)
        self.negative_slope = negative_slope
        self.layers = [
            Linear(n_in, n_out, init=init, rng=rng, dtype=dtype) for n_in, n_out in pairwise(widths)
        ]
        for name, p in self.named_parameters():
            p.name = name
        self.flat_values = share_one_buffer(self.parameters())

    def named_parameters(self):
        return [
            (f"layers.{i}.{name}", p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = LeakyRelu(layer(x), self.negative_slope)
        return self.layers[-1](x)
