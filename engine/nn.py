"""Layers. An `MLP` allocates one `ParameterBuffer` for its parameters (they are views into it), so
that an optimizer updates them all with a few whole-array operations (see `engine.optim`).

`MLP.stacked` holds R independent networks of one shape in one model: a runs axis in front of every
parameter (weight [R, out, in], bias [R, 1, out]) and of every input ([R, batch, in])."""

import numbers
from itertools import pairwise

import numpy as np

from engine.buffer import ParameterBuffer
from engine.graph import DEFAULT_DTYPE, Node, Parameter, Variable
from engine.ops import Affine, LeakyRelu, VectorMatrixMultiply


def _seed_init(rng, shape, fan_in):
    return rng.random(shape)


def _kaiming_init(rng, shape, fan_in):
    # PyTorch's default for nn.Linear, weight and bias alike: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


INITS = {"seed": _seed_init, "kaiming": _kaiming_init}


def _check_widths(owner, **widths):
    """ValueError naming the first width that is not a positive integer (`hidden` is a list)."""
    for name, value in widths.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in values):
            allowed = "a list of positive integers" if isinstance(value, list) else "a positive integer"
            raise ValueError(f"{owner}: {name} must be {allowed}, got {value!r}")


class Module:
    def named_parameters(self):
        """A list of (name, parameter node)."""
        raise NotImplementedError

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def __call__(self, x):
        if not isinstance(x, Node):
            x = Variable(x, name="x", dtype=self.dtype)
        return self.forward(x)


class Linear(Module):
    """`x @ weight.T + bias`, weight `[out_features, in_features]` (the seed's `Matrix` layout)."""

    def __init__(self, in_features, out_features, bias=True, init="kaiming", rng=None, dtype=DEFAULT_DTYPE):
        _check_widths("Linear", in_features=in_features, out_features=out_features)
        if init not in INITS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITS)}")
        rng = np.random.default_rng(rng)
        draw = INITS[init]
        weight = draw(rng, (out_features, in_features), in_features)
        self._hold(weight, draw(rng, (out_features,), in_features) if bias else None, dtype)

    @classmethod
    def from_values(cls, weight, bias=None, dtype=DEFAULT_DTYPE):
        """A layer holding copies of the given arrays (weight [out, in] or [R, out, in])."""
        layer = cls.__new__(cls)
        layer._hold(weight, bias, dtype)
        return layer

    def _hold(self, weight, bias, dtype):
        self.dtype = np.dtype(dtype)
        self.weight = Parameter(weight, "weight", dtype)
        self.bias = None if bias is None else Parameter(bias, "bias", dtype)

    def named_parameters(self):
        return [("weight", self.weight)] + ([("bias", self.bias)] if self.bias is not None else [])

    def forward(self, x):
        if self.bias is None:
            return VectorMatrixMultiply(x, self.weight)
        return Affine(x, self.weight, self.bias)


class MLP(Module):
    """Linear layers of widths `hidden` with LeakyReLU between them, none after the last.

    `runs` is None for one network; for a model made by `MLP.stacked`, the number of networks R."""

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
        hidden = np.atleast_1d(hidden).tolist()
        _check_widths("MLP", in_features=in_features, hidden=hidden, out_features=out_features)
        rng = np.random.default_rng(rng)
        widths = [in_features, *hidden, out_features]
        layers = [Linear(n_in, n_out, init=init, rng=rng, dtype=dtype) for n_in, n_out in pairwise(widths)]
        self._hold(layers, negative_slope, dtype, runs=None)

    @classmethod
    def stacked(
        cls,
        in_features,
        hidden,
        out_features,
        rngs,
        negative_slope=0.1,
        init="kaiming",
        dtype=DEFAULT_DTYPE,
    ):
        """R networks of one shape in one model, R = len(rngs). Run r's parameters are drawn from
        `np.random.default_rng(rngs[r])` (a seed or a Generator) exactly as `MLP(..., rng=rngs[r])`
        draws them, and a Generator given is left where that MLP would leave it."""
        singles = [
            cls(in_features, hidden, out_features, negative_slope, init, rng=rng, dtype=dtype) for rng in rngs
        ]
        if not singles:
            raise ValueError("MLP.stacked: rngs must hold one seed or Generator per run, got none")
        layers = [
            Linear.from_values(
                np.stack([single.layers[i].weight.values for single in singles]),
                np.stack([single.layers[i].bias.values for single in singles])[:, None, :],
                dtype,
            )
            for i in range(len(singles[0].layers))
        ]
        model = cls.__new__(cls)
        model._hold(layers, negative_slope, dtype, runs=len(singles))
        return model

    def _hold(self, layers, negative_slope, dtype, runs):
        self.dtype = np.dtype(dtype)
        self.negative_slope = negative_slope
        self.layers = layers
        self.runs = runs
        for name, p in self.named_parameters():
            p.name = name
        self.buffer = ParameterBuffer(self.parameters(), runs=runs)

    def named_parameters(self):
        return [
            (f"layers.{i}.{name}", p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def run_parameters(self, run):
        """Copies of run `run`'s parameters, by name, in the shapes of a single MLP's."""
        if self.runs is None:
            raise ValueError("run_parameters: this MLP has no runs axis (see MLP.stacked)")
        parameters = {}
        for i, layer in enumerate(self.layers):
            parameters[f"layers.{i}.weight"] = np.array(layer.weight.values[run])
            if layer.bias is not None:
                parameters[f"layers.{i}.bias"] = np.array(layer.bias.values[run, 0])
        return parameters

    def forward(self, x):
        if self.runs is not None and (x.values.ndim != 3 or x.shape[0] != self.runs):
            raise ValueError(
                f"MLP with {self.runs} runs: input must be [runs, batch, in], got shape {x.shape}"
            )
        for layer in self.layers[:-1]:  # x is a node: each layer's forward takes it as it is
            x = LeakyRelu(layer.forward(x), self.negative_slope)
        return self.layers[-1].forward(x)
