"""Every op's gradient against central differences (one helper, `engine.gradcheck`), forward values
against NumPy, broadcasting and shape errors."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    Add,
    Affine,
    Div,
    LeakyRelu,
    MatMul,
    Matrix,
    Mean,
    Mul,
    Neg,
    Reduce,
    ReLU,
    Sin,
    Square,
    Sub,
    Tanh,
    Transpose,
    Variable,
    VectorMatrixMultiply,
    unbroadcast,
)
from engine.gradcheck import gradcheck

checks = settings(max_examples=20, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)
two_broadcastable = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
seeds = st.integers(0, 2**32 - 1)


def away_from_zero(rng, shape, low=0.2, high=2.0):
    """Values with |v| in [low, high]: no kink of ReLU/LeakyRelu and no pole of Div within reach of eps."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


@checks
@given(shapes=two_broadcastable, seed=seeds, op=st.sampled_from([Add, Sub, Mul, Div]))
def test_binary_op_gradients_broadcast(shapes, seed, op):
    rng = np.random.default_rng(seed)
    a, b = (away_from_zero(rng, shape) for shape in shapes.input_shapes)
    gradcheck(op, [a, b])


@checks
@given(shapes=two_broadcastable, seed=seeds)
def test_operators_match_ops_and_accept_numbers(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (away_from_zero(rng, shape) for shape in shapes.input_shapes)
    gradcheck(lambda x, y: (2.0 - x) * y / 3.0 + 1.5 / y - -x + x * 0.5, [a, b])
    x, y = Variable(a), Variable(b)
    np.testing.assert_array_equal((x + y).values, Add(x, y).values)
    np.testing.assert_array_equal((x - 1).values, a - 1)
    np.testing.assert_array_equal((2 * x).values, 2 * a)


@checks
@given(shape=shapes, seed=seeds, op=st.sampled_from([Neg, Square, Sin, Tanh, ReLU, LeakyRelu, Reduce, Mean]))
def test_unary_op_gradients(shape, seed, op):
    gradcheck(op, [away_from_zero(np.random.default_rng(seed), shape)])


@checks
@given(shape=shapes, seed=seeds, slope=st.sampled_from([0.0, 0.1, 0.5, 1.0, 1.7, -0.3]))
def test_leaky_relu_values_and_gradients_for_any_slope(shape, seed, slope):
    x = away_from_zero(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(LeakyRelu(x, negative_slope=slope).values, np.where(x > 0, x, slope * x))
    gradcheck(lambda v: LeakyRelu(v, negative_slope=slope), [x])


@checks
@given(
    leading=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    seed=seeds,
)
def test_vector_matrix_multiply_and_affine_gradients(leading, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(*leading, n_in)), rng.normal(size=(n_out, n_in))
    gradcheck(lambda t, m: VectorMatrixMultiply(tensor=t, matrix=m), [x, w])
    for bias_shape in [(n_out,), (1,), (*leading, n_out)]:
        gradcheck(Affine, [x, w, rng.normal(size=bias_shape)])
    np.testing.assert_allclose(VectorMatrixMultiply(x, w).values, x @ w.T)


@checks
@given(
    batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=2),
    dims=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    seed=seeds,
)
def test_matmul_gradients_with_broadcast_batch_axes(batch, dims, seed):
    rng = np.random.default_rng(seed)
    n, k, m = dims
    a, b = rng.normal(size=(*batch.input_shapes[0], n, k)), rng.normal(size=(*batch.input_shapes[1], k, m))
    gradcheck(MatMul, [a, b])
    np.testing.assert_allclose((Variable(a) @ Variable(b)).values, a @ b)


@checks
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), seed=seeds, data=st.data())
def test_transpose_gradients_for_any_permutation(shape, seed, data):
    axes = data.draw(st.permutations(range(len(shape))))
    x = np.random.default_rng(seed).normal(size=shape)
    np.testing.assert_array_equal(Transpose(x, axes).values, np.transpose(x, axes))
    gradcheck(lambda v: Transpose(v, axes), [x])
    gradcheck(lambda v: v.T, [x])


def test_non_square_transpose_is_right():
    m = Matrix(in_channels=3, out_features=2)
    m.values = [[1, 2, 3], [4, 5, 6]]
    transposed = m.transposed()
    assert transposed.shape == (3, 2)
    np.testing.assert_array_equal(transposed.values, [[1, 4], [2, 5], [3, 6]])
    x = Variable([[1.0, 1.0]])
    Reduce(VectorMatrixMultiply(x, transposed)).backward()  # [1, 2] @ [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(m.grad, np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, [[6.0, 15.0]])


def test_whole_seed_network_gradient():
    rng = np.random.default_rng(3)
    inputs = [rng.normal(size=(5, 1)), rng.normal(size=(4, 1)), rng.normal(size=4), rng.normal(size=(1, 4))]

    def network(x, w0, b0, w1):
        z = LeakyRelu(VectorMatrixMultiply(x, w0) + b0, negative_slope=0.1)
        return Reduce(
            Square(VectorMatrixMultiply(z, w1) - (Square(x) * 2.777 - x * x * x * 1.5 + Sin(x * 4.0)))
        )

    gradcheck(network, inputs)


def test_reductions_have_the_seeds_shape():
    x = np.arange(6.0).reshape(2, 3)
    assert Reduce(x).values.tolist() == [15.0]
    assert Mean(x).values.tolist() == [2.5]
    with pytest.raises(ValueError, match="only op='\\+'"):
        Reduce(x, op="*")


def test_unbroadcast_sums_added_and_stretched_axes():
    grad = np.ones((4, 2, 3))
    np.testing.assert_array_equal(unbroadcast(grad, (3,)), np.full(3, 8.0))
    np.testing.assert_array_equal(unbroadcast(grad, (2, 1)), np.full((2, 1), 12.0))
    np.testing.assert_array_equal(unbroadcast(grad, ()), 24.0)
    assert unbroadcast(grad, (4, 2, 3)) is grad


@pytest.mark.parametrize(
    "build, shapes",
    [
        (Add, [(2, 3), (4,)]),
        (Sub, [(5,), (2,)]),
        (Mul, [(2, 3), (3, 2)]),
        (lambda a, b: VectorMatrixMultiply(a, b), [(2, 3), (3, 2)]),
        (MatMul, [(2, 3), (2, 3)]),
        (lambda a, b: Affine(a, np.ones((4, 3)), b), [(2, 3), (3,)]),
    ],
)
def test_shape_mismatch_raises_value_error_naming_both_shapes(build, shapes):
    a, b = (np.ones(shape) for shape in shapes)
    with pytest.raises(ValueError) as error:
        build(Variable(a), Variable(b))
    message = str(error.value)
    assert str(shapes[1]) in message
    assert str(shapes[0]) in message or "Affine" in message
