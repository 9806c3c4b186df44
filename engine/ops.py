"""The ops. Each computes its value when constructed and says, beside it, how a gradient flows back.

`backward_step(grad)` returns one gradient per dependency in the shape of the op's output;
`Node.backward` hands each to `unbroadcast`, the one place where broadcasting is undone.
"""

import math

import numpy as np

from engine.graph import Node, as_node


def unbroadcast(grad, shape):
    """Sum `grad` over the axes that broadcasting added or stretched, so that it has `shape`."""
    if grad.shape == shape:
        return grad
    if grad.size == math.prod(shape):  # only axes of length 1 were added: summing them is a reshape
        return grad.reshape(shape)
    leading = grad.ndim - len(shape)
    stretched = tuple(leading + i for i, n in enumerate(shape) if n == 1 and grad.shape[leading + i] != 1)
    return grad.sum(axis=tuple(range(leading)) + stretched).reshape(shape)


def _shape_error(op, a, b, detail="cannot broadcast"):
    return ValueError(f"{op}: {detail} shapes {tuple(a.shape)} and {tuple(b.shape)}")


class Binary(Node):
    """An op of two inputs that broadcast as NumPy does; `forward` maps their values to the output."""

    __slots__ = ()

    def __init__(self, a, b):
        a, b = as_node(a, like=b), as_node(b, like=a)
        try:
            value = self.forward(a.value, b.value)
        except ValueError:
            raise _shape_error(type(self).__name__, a, b) from None
        super().__init__(value, (a, b))


class Unary(Node):
    __slots__ = ()

    def __init__(self, a):
        a = as_node(a)
        super().__init__(self.forward(a.value), (a,))


class Add(Binary):
    __slots__ = ()

    @staticmethod
    def forward(a, b):
        return a + b

    def backward_step(self, grad):
        return grad, grad


class Sub(Binary):
    __slots__ = ()

    @staticmethod
    def forward(a, b):
        return a - b

    def backward_step(self, grad):
        return grad, -grad


class Mul(Binary):
    __slots__ = ()

    @staticmethod
    def forward(a, b):
        return a * b

    def backward_step(self, grad):
        a, b = self.dependencies
        return grad * b.value, grad * a.value


class Div(Binary):
    __slots__ = ()

    @staticmethod
    def forward(a, b):
        return a / b

    def backward_step(self, grad):
        grad_a = grad / self.dependencies[1].value
        return grad_a, -grad_a * self.value


class Neg(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return -x

    def backward_step(self, grad):
        return (-grad,)


class Square(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return x * x

    def backward_step(self, grad):
        return (grad * 2.0 * self.dependencies[0].value,)


class Sin(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.sin(x)

    def backward_step(self, grad):
        return (grad * np.cos(self.dependencies[0].value),)


class Tanh(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.tanh(x)

    def backward_step(self, grad):
        return (grad * (1.0 - self.value * self.value),)


class ReLU(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.maximum(x, 0)

    def backward_step(self, grad):
        return (np.where(self.dependencies[0].value > 0, grad, 0),)


class LeakyRelu(Node):
    __slots__ = ("negative_slope",)

    def __init__(self, a, negative_slope=0.01):
        a = as_node(a)
        x = a.value
        if 0 <= negative_slope <= 1:  # then max(x, slope*x) is the same value, one NumPy call cheaper
            value = np.maximum(x, negative_slope * x)
        else:
            value = np.where(x > 0, x, negative_slope * x)
        super().__init__(value, (a,))
        self.negative_slope = negative_slope

    def backward_step(self, grad):
        return (np.where(self.dependencies[0].value > 0, grad, grad * self.negative_slope),)

    def label(self):
        return f"LeakyRelu({self.negative_slope})"


# Reductions to shape [1], as the seed's Reduce.


class Reduce(Unary):
    """The sum of every element, shape [1]. Only the seed's op '+' exists."""

    __slots__ = ()

    def __init__(self, a, op="+"):
        if op != "+":
            raise ValueError(f"Reduce: only op='+' is supported, not {op!r}")
        super().__init__(a)

    @staticmethod
    def forward(x):
        return x.sum().reshape(1)

    def backward_step(self, grad):
        return (np.full(self.dependencies[0].value.shape, grad[0]),)


class Mean(Unary):
    """The mean of every element, shape [1]."""

    __slots__ = ()

    @staticmethod
    def forward(x):
        return x.sum().reshape(1) / x.size

    def backward_step(self, grad):
        x = self.dependencies[0].value
        return (np.full(x.shape, grad[0] / x.size),)


# Linear algebra.


class VectorMatrixMultiply(Node):
    """The seed's matmul: multiplies the last axis of a `[..., in]` tensor by an `[out, in]` matrix."""

    __slots__ = ()

    def __init__(self, tensor, matrix):
        tensor, matrix = as_node(tensor), as_node(matrix)
        if matrix.value.ndim != 2 or tensor.value.ndim == 0 or tensor.shape[-1] != matrix.shape[1]:
            raise _shape_error(type(self).__name__, tensor, matrix, "needs [..., in] and [out, in], got")
        super().__init__(tensor.value @ matrix.value.T, (tensor, matrix))

    def backward_step(self, grad):
        x, w = self.dependencies[0].value, self.dependencies[1].value
        grad_rows, x_rows = grad.reshape(-1, w.shape[0]), x.reshape(-1, w.shape[1])
        # One row: the same products as the matmul, without BLAS's overhead for an outer product.
        grad_w = grad_rows.T * x_rows if len(x_rows) == 1 else grad_rows.T @ x_rows
        return grad @ w, grad_w


class Affine(VectorMatrixMultiply):
    """`VectorMatrixMultiply(tensor, matrix) + bias` as one node: a linear layer in one step."""

    __slots__ = ()

    def __init__(self, tensor, matrix, bias):
        super().__init__(tensor, matrix)
        bias = as_node(bias, like=self)
        try:
            self.value += bias.value
        except ValueError:
            raise _shape_error("Affine", self, bias, "cannot add the bias: product and bias have") from None
        self.dependencies += (bias,)

    def backward_step(self, grad):
        return (*super().backward_step(grad), grad)


class MatMul(Node):
    """`a @ b` for operands of two or more axes; leading (batch) axes broadcast."""

    __slots__ = ()

    def __init__(self, a, b):
        a, b = as_node(a, like=b), as_node(b, like=a)
        if a.value.ndim < 2 or b.value.ndim < 2:
            raise _shape_error("MatMul", a, b, "needs operands of at least 2 axes, got")
        try:
            value = a.value @ b.value
        except ValueError:
            raise _shape_error("MatMul", a, b, "cannot multiply") from None
        super().__init__(value, (a, b))

    def backward_step(self, grad):
        a, b = self.dependencies[0].value, self.dependencies[1].value
        return grad @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ grad


class Transpose(Node):
    """Permutes the axes (reverses them by default), as `numpy.transpose`."""

    __slots__ = ("axes",)

    def __init__(self, a, axes=None):
        a = as_node(a)
        self.axes = tuple(range(a.value.ndim))[::-1] if axes is None else tuple(axes)
        # A copy, not a view: the value must not change when a parameter is updated in place.
        super().__init__(np.transpose(a.value, self.axes).copy(), (a,))

    def backward_step(self, grad):
        return (np.transpose(grad, np.argsort(self.axes)),)
