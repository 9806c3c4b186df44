"""engine.nn: layouts, inits, randomness from one generator, one flat parameter buffer."""

import numpy as np
import pytest

from engine import Mean, Square, Variable
from engine.gradcheck import gradcheck
from engine.nn import MLP, Linear


def test_mlp_shapes_and_names():
    model = MLP(1, [5, 4], 2, rng=0)
    assert [(name, p.shape) for name, p in model.named_parameters()] == [
        ("layers.0.weight", (5, 1)),
        ("layers.0.bias", (5,)),
        ("layers.1.weight", (4, 5)),
        ("layers.1.bias", (4,)),
        ("layers.2.weight", (2, 4)),
        ("layers.2.bias", (2,)),
    ]
    prediction = model(Variable(np.zeros((7, 1))))
    assert prediction.shape == (7, 2)
    assert model(np.zeros((3, 1))).shape == (3, 2)
    loss = Mean(Square(prediction))
    loss.backward()
    assert all(p.grad.shape == p.shape for p in model.parameters())


def test_parameters_and_gradients_are_views_of_the_models_buffer():
    model = MLP(2, [3], 1, rng=0)
    flat, grads = model.buffer.values, model.buffer.grads
    assert flat.shape == grads.shape == (1, sum(p.values.size for p in model.parameters()))
    model.parameters()[1].values = [7.0, 8.0, 9.0]  # layers.0.bias, after the 3x2 weight
    np.testing.assert_array_equal(flat[0, 6:9], [7.0, 8.0, 9.0])
    Mean(Square(model(np.ones((4, 2))))).backward()
    np.testing.assert_array_equal(grads[0, 6:9], model.parameters()[1].grad)
    assert all(np.shares_memory(p.grad, grads) for p in model.parameters())


@pytest.mark.parametrize(
    "args, message",
    [
        ((1, [0], 1), r"MLP: hidden must be a list of positive integers, got \[0\]"),
        ((1, [8, -2], 1), r"hidden must be a list of positive integers, got \[8, -2\]"),
        ((1, [2.5], 1), r"hidden must be a list of positive integers"),
        ((0, [8], 1), r"MLP: in_features must be a positive integer, got 0"),
        ((1, [8], -1), r"MLP: out_features must be a positive integer, got -1"),
    ],
)
def test_widths_that_are_not_positive_integers_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        MLP(*args)


def test_seed_init_is_uniform_on_zero_one():
    values = np.concatenate([p.values.ravel() for p in MLP(1, [64, 64], 1, init="seed", rng=0).parameters()])
    assert values.min() >= 0.0 and values.max() < 1.0 and values.min() < 0.01 and values.max() > 0.99


def test_kaiming_init_is_fan_in_scaled_uniform():
    layer = Linear(256, 100, init="kaiming", rng=0)
    bound = 1 / np.sqrt(256)
    for p in layer.parameters():
        assert np.abs(p.values).max() <= bound and np.abs(p.values).max() > 0.95 * bound
        assert p.values.min() < 0 < p.values.max()


def test_one_seed_gives_identical_parameters_and_another_does_not():
    def values(rng):
        return np.concatenate([p.values.ravel() for p in MLP(1, [8], 1, rng=rng).parameters()])

    np.testing.assert_array_equal(values(3), values(np.random.default_rng(3)))
    assert not np.array_equal(values(3), values(4))


def test_linear_without_bias_and_its_gradient():
    layer = Linear(3, 2, bias=False, rng=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.random.default_rng(1).normal(size=(4, 3))
    np.testing.assert_allclose(layer(x).values, x @ layer.weight.values.T)
    gradcheck(lambda v: layer(v), [x])


def test_mlp_gradient_with_respect_to_its_input():
    model = MLP(2, [3, 3], 1, negative_slope=0.1, rng=0)
    gradcheck(lambda v: model(v), [np.random.default_rng(2).normal(size=(4, 2))])


def test_float32_model():
    model = MLP(1, [4], 1, rng=0, dtype=np.float32)
    loss = Mean(Square(model(np.ones((2, 1)))))
    loss.backward()
    assert loss.values.dtype == np.float32
    assert all(p.values.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        MLP(1, [4], 1, init="xavier")
