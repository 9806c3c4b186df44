"""The engine follows the seed program's own loss trajectory, recorded by
tests/fixtures/make_seed_reference.py from the same initial weights and inputs."""

import importlib.util
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

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
    tensor_from_list,
)
from engine.nn import MLP
from engine.optim import SeedAdamW

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFERENCE = np.load(FIXTURES / "seed_reference.npz")
NAMES = ("m0", "b0", "m1", "b1", "m2", "b2")
RTOL = 1e-9


def load_fixture_script():
    spec = importlib.util.spec_from_file_location("make_seed_reference", FIXTURES / "make_seed_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_follows_reference(losses, parameters):
    np.testing.assert_allclose(losses, REFERENCE["loss"], rtol=RTOL, atol=0)
    for name, p in zip(NAMES, parameters, strict=True):
        np.testing.assert_allclose(p.values, REFERENCE[f"final_{name}"], rtol=1e-9, atol=1e-12, err_msg=name)


def test_seed_model_in_engine_vocabulary_follows_the_seed():
    m0, b0 = Matrix(in_channels=1, out_features=64), LearnableParameter(shape=[64])
    m1, b1 = Matrix(in_channels=64, out_features=64), LearnableParameter(shape=[64])
    m2, b2 = Matrix(in_channels=64, out_features=1), LearnableParameter(shape=[1])
    parameters = [m0, b0, m1, b1, m2, b2]
    for name, p in zip(NAMES, parameters, strict=True):
        p.values = REFERENCE[f"initial_{name}"]

    def eval_mlp(x):
        for matrix, bias, last in [(m0, b0, False), (m1, b1, False), (m2, b2, True)]:
            x = VectorMatrixMultiply(tensor=x, matrix=matrix) + bias
            x = x if last else LeakyRelu(x, negative_slope=0.1)
        return x

    def eval_target(x):
        two = Square(x) * Constant(tensor_from_list([2.777])) + Constant(tensor_from_list([0.123]))
        return (
            two - x * x * x * Constant(tensor_from_list([1.5])) + Sin(x * Constant(tensor_from_list([4.0])))
        )

    optimizer = SeedAdamW(parameters=parameters, lr=0.001, weight_decay=0.001, betas=(0.9, 0.9))
    losses = []
    for x_value in REFERENCE["x"]:
        x = Variable(tensor_from_list([x_value]), name="x")
        loss = Reduce(Square(eval_mlp(x) - eval_target(x)))
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert_follows_reference(losses, parameters)


def test_nn_mlp_with_the_seeds_weights_follows_the_seed():
    model = MLP(1, [64, 64], 1, negative_slope=0.1, init="seed", rng=0)
    for name, p in zip(NAMES, model.parameters(), strict=True):
        p.values = REFERENCE[f"initial_{name}"]
    optimizer = SeedAdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.9), weight_decay=1e-3)
    losses = []
    for x in REFERENCE["x"]:
        x = x.reshape(1, 1)
        target = x * x * 2.777 + 0.123 - x * x * x * 1.5 + np.sin(x * 4.0)
        loss = Reduce(Square(model(x) - Constant(target)))
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert_follows_reference(losses, model.parameters())


class RecordedRandom:
    """Stands in for the `random` module: returns the uniforms the seed program drew for its inputs."""

    def __init__(self, uniforms):
        self._uniforms = iter(uniforms.tolist())

    def random(self):
        return next(self._uniforms)


def test_the_seeds_own_model_and_loop_run_on_the_engine(tmp_path, monkeypatch):
    """The seed post's model, loop, DOT dump and plot, with only the imports changed and the optimizer
    named SeedAdamW."""
    fixtures = load_fixture_script()
    if not fixtures.SEED_POST.exists():
        pytest.skip(f"the seed post is not at {fixtures.SEED_POST}")
    code = fixtures.seed_code()
    model = code[code.index("num_nodes = 64") : code.index("class AdamW:")]
    rest = code[code.index("adamw = AdamW(") :].replace("adamw = AdamW(", "adamw = SeedAdamW(")
    rest = rest.replace(fixtures.LOOP_START, f"for epoch in range({len(REFERENCE['loss'])}):")
    imports = "from engine import *\nfrom engine.optim import SeedAdamW\n"
    setup, loop = rest[: rest.index("for epoch")], rest[rest.index("for epoch") :]

    printed = []
    namespace = {"random": RecordedRandom(REFERENCE["uniforms"]), "print": lambda *args: printed.append(args)}
    exec(compile(imports + model + setup, "seed_model", "exec"), namespace)
    for name in NAMES:
        namespace[name].values = REFERENCE[f"initial_{name}"]

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    matplotlib.use("Agg")
    with np.printoptions(precision=17):  # prints each loss exactly
        exec(compile(loop, "seed_loop", "exec"), namespace)

    losses = [float(re.search(r"loss = \[(.*)\];", line[0]).group(1)) for line in printed]
    assert_follows_reference(losses, [namespace[name] for name in NAMES])
    assert (tmp_path / ".tmp" / "graph.dot").read_text().startswith("digraph G {")
    import matplotlib.pyplot as plt

    lines = plt.gca().get_lines()
    assert len(lines) == 2 and all(len(line.get_ydata()) == 200 for line in lines)
    plt.close("all")
