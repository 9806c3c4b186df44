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
        if not (isinstance(a, Node) and isinstance(b, Node)):
            a, b = as_node(a, like=b), as_node(b, like=a)
        try:
            values = self.forward(a.values, b.values)
        except ValueError:
            raise _shape_error(type(self).__name__, a, b) from None
        super().__init__(values, (a, b))


class Unary(Node):
    __slots__ = ()

    def __init__(self, a):
        if not isinstance(a, Node):
            a = as_node(a)
        super().__init__(self.forward(a.values), (a,))


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
        return grad * b.values, grad * a.values


class Div(Binary):
    __slots__ = ()

    @staticmethod
    def forward(a, b):
        return a / b

    def backward_step(self, grad):
        grad_a = grad / self.dependencies[1].values
        return grad_a, -grad_a * self.values


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
        return (grad * 2.0 * self.dependencies[0].values,)


class Sin(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.sin(x)

    def backward_step(self, grad):
        return (grad * np.cos(self.dependencies[0].values),)


class Tanh(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.tanh(x)

    def backward_step(self, grad):
        return (grad * (1.0 - self.values * self.values),)


class ReLU(Unary):
    __slots__ = ()

    @staticmethod
    def forward(x):
        return np.maximum(x, 0)

    def backward_step(self, grad):
        return (np.where(self.dependencies[0].values > 0, grad, 0),)


class LeakyRelu(Node):
    __slots__ = ("negative_slope",)

    def __init__(self, a, negative_slope=0.01):
        if not isinstance(a, Node):
            a = as_node(a)
        x = a.values
        if 0 <= negative_slope <= 1:  # then max(x, slope*x) is the same value, one NumPy call cheaper
            value = np.maximum(x, negative_slope * x)
        else:
            value = np.where(x > 0, x, negative_slope * x)
        super().__init__(value, (a,))
        self.negative_slope = negative_slope

    def backward_step(self, grad):
        return (np.where(self.dependencies[0].values > 0, grad, grad * self.negative_slope),)

    def label(self):
        return f"LeakyRelu({self.negative_slope})"


# Reductions: to shape [1] as the seed's Reduce, or over chosen axes.


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
        return (np.full(self.dependencies[0].values.shape, grad[0]),)


class Mean(Node):
    """The mean of every element, shape [1]; with `axis`, the mean over those axes (for a runs axis,
    `Mean(x, axis=(1, 2))` of an [R, batch, 1] node is one loss per run, shape [R])."""

    __slots__ = ("axis", "count")

    def __init__(self, a, axis=None):
        a = as_node(a)
        x = a.values
        self.axis = None if axis is None else tuple(np.atleast_1d(axis).tolist())
        if self.axis is None:
            self.count = x.size
            values = x.sum().reshape(1) / self.count
        else:
            self.count = math.prod(x.shape[i] for i in self.axis)
            values = x.sum(axis=self.axis) / self.count
        super().__init__(values, (a,))

    def backward_step(self, grad):
        shape = self.dependencies[0].values.shape
        if self.axis is None:
            return (np.full(shape, grad[0] / self.count),)
        return (np.broadcast_to(np.expand_dims(grad / self.count, self.axis), shape),)


# Linear algebra.


def _product(op, tensor, matrix):
    """The seed's matmul of two nodes' values: the last axis of a `[..., in]` tensor times an
    `[out, in]` matrix, or run by run, `[R, batch, in]` times `[R, out, in]`."""
    x, w = tensor.values, matrix.values
    if w.ndim == 2 and x.ndim > 0 and x.shape[-1] == w.shape[1]:
        return x @ w.T
    if w.ndim == 3 and x.ndim == 3 and x.shape[0] == w.shape[0] and x.shape[2] == w.shape[2]:
        return x @ w.swapaxes(1, 2)
    raise _shape_error(
        op, tensor, matrix, "needs [..., in] and [out, in], or [R, batch, in] and [R, out, in], got"
    )


def _product_gradients(grad, tensor, matrix):
    """The gradients of `_product` for the tensor and the matrix. The matrix's is written into its
    `grad_destination()` when it offers one."""
    x, w = tensor.values, matrix.values
    if w.ndim == 3:  # run by run: [R, out, batch] @ [R, batch, in]
        grad_rows_t, x_rows = grad.swapaxes(1, 2), x
    elif grad.ndim == 2:  # [batch, out] and [batch, in] already
        grad_rows_t, x_rows = grad.T, x
    else:  # every leading axis is a batch axis: rows of [out] and [in]
        grad_rows_t, x_rows = grad.reshape(-1, w.shape[0]).T, x.reshape(-1, w.shape[1])
    out = matrix.grad_destination()
    # One row: the same products as the matmul, without BLAS's overhead for an outer product.
    if x_rows.shape[-2] == 1:
        grad_w = np.multiply(grad_rows_t, x_rows, out=out)
    else:
        grad_w = np.matmul(grad_rows_t, x_rows, out=out)
    return grad @ w, grad_w


class VectorMatrixMultiply(Node):
    """The seed's matmul: multiplies the last axis of a `[..., in]` tensor by an `[out, in]` matrix.
    With a runs axis, an `[R, out, in]` matrix multiplies an `[R, batch, in]` tensor run by run."""

    __slots__ = ()

    def __init__(self, tensor, matrix):
        tensor, matrix = as_node(tensor), as_node(matrix)
        super().__init__(_product("VectorMatrixMultiply", tensor, matrix), (tensor, matrix))

    def backward_step(self, grad):
        return _product_gradients(grad, *self.dependencies)


class Affine(Node):
    """`VectorMatrixMultiply(tensor, matrix) + bias` as one node: a linear layer in one step."""

    __slots__ = ()

    def __init__(self, tensor, matrix, bias):
        if not (isinstance(tensor, Node) and isinstance(matrix, Node) and isinstance(bias, Node)):
            tensor, matrix = as_node(tensor), as_node(matrix)
            bias = as_node(bias, like=matrix)  # before this node: construction order is topological
        values = _product("Affine", tensor, matrix)
        try:
            values += bias.values
        except ValueError:
            raise _shape_error("Affine", values, bias, "cannot add the bias: product and bias have") from None
        super().__init__(values, (tensor, matrix, bias))

    def backward_step(self, grad):
        tensor, matrix, _ = self.dependencies
        return (*_product_gradients(grad, tensor, matrix), grad)


class MatMul(Node):
    """`a @ b` for operands of two or more axes; leading (batch) axes broadcast."""

    __slots__ = ()

    def __init__(self, a, b):
        a, b = as_node(a, like=b), as_node(b, like=a)
        if a.values.ndim < 2 or b.values.ndim < 2:
            raise _shape_error("MatMul", a, b, "needs operands of at least 2 axes, got")
        try:
            values = a.values @ b.values
        except ValueError:
            raise _shape_error("MatMul", a, b, "cannot multiply") from None
        super().__init__(values, (a, b))

    def backward_step(self, grad):
        a, b = self.dependencies[0].values, self.dependencies[1].values
        return grad @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ grad


class Transpose(Node):
    """Permutes the axes (reverses them by default), as `numpy.transpose`."""

    __slots__ = ("axes",)

    def __init__(self, a, axes=None):
        a = as_node(a)
        self.axes = tuple(range(a.values.ndim))[::-1] if axes is None else tuple(axes)
        # A copy, not a view: the value must not change when a parameter is updated in place.
        super().__init__(np.transpose(a.values, self.axes).copy(), (a,))

    def backward_step(self, grad):
        return (np.transpose(grad, np.argsort(self.axes)),)
