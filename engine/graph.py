"""The graph: nodes that hold their value, know their dependencies, and run backward.

Evaluation is eager: an op computes its value once, when it is constructed, and
`materialize()` returns that cached array. Backward only reads cached values.
"""

import numpy as np

DEFAULT_DTYPE = np.float64

_default_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator that `LearnableParameter` and `Matrix` draw from when given no `rng`."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def as_array(values, dtype=None):
    """`values` as an ndarray: a floating array keeps its dtype unless `dtype` is given, else float64."""
    if dtype is None:
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            return values
        dtype = DEFAULT_DTYPE
    return np.asarray(values, dtype=dtype)


def tensor_from_list(nested_list, dtype=None):
    """The seed's constructor: a nested list of numbers as an ndarray of its shape."""
    return as_array(nested_list, dtype)


def as_node(value, like=None):
    """A node as is; a number or an array wrapped as a Constant. Plain numbers take the dtype of the
    node `like`, so that a float32 graph stays float32."""
    if isinstance(value, Node):
        return value
    dtype = like.value.dtype if isinstance(like, Node) and not isinstance(value, np.ndarray) else None
    return Constant(as_array(value, dtype))


def _operator(op_name, reflected=False):
    """An operator method that builds the op `engine.ops.<op_name>`, operands swapped if `reflected`."""

    def operator(self, other):
        op = getattr(ops, op_name)
        return op(other, self) if reflected else op(self, other)

    operator.__name__ = op_name
    return operator


class Node:
    """A value in the graph. Subclasses that have dependencies implement `backward_step`."""

    __slots__ = ("value", "grad", "dependencies")

    def __init__(self, value, dependencies=()):
        self.value = value
        self.grad = None
        self.dependencies = dependencies

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def materialize(self):
        return self.value

    def item(self):
        return self.value.item()

    def backward_step(self, grad):
        """The gradients for `self.dependencies`, in order, given the gradient of this node."""
        raise NotImplementedError(type(self).__name__)

    def topological_order(self):
        """Every node this one depends on, dependencies before dependents, ending with this node."""
        try:
            return _depth_first_order(self)
        except RecursionError:
            return _depth_first_order_iterative(self)

    # The seed's name for it.
    get_topo_sorted_list_of_deps = topological_order

    def backward(self):
        """Zero the graph's gradients, seed d(self)/d(self) = 1 and propagate in reverse topological order.

        Afterwards every node's `.grad` has its shape. Nodes may share one gradient array (both inputs
        of an Add get the same one): read `.grad`, do not modify it in place."""
        unbroadcast = ops.unbroadcast
        order = self.topological_order()
        for node in order:
            node.grad = None
        self.grad = np.ones_like(self.value)
        for node in reversed(order):
            if node.dependencies:
                for dep, grad in zip(node.dependencies, node.backward_step(node.grad), strict=True):
                    shape = dep.value.shape
                    if grad.shape != shape:
                        grad = unbroadcast(grad, shape)
                    dep.grad = grad if dep.grad is None else dep.grad + grad

    def label(self):
        return type(self).__name__

    def get_pretty_name(self):
        return self.label()

    def pretty_print_dot_graph(self):
        return dot.to_dot(self)

    def __repr__(self):
        return f"{self.label()} shape={self.shape}"

    # Operators build graph nodes; numbers are wrapped as Constants.
    __add__, __radd__ = _operator("Add"), _operator("Add", reflected=True)
    __sub__, __rsub__ = _operator("Sub"), _operator("Sub", reflected=True)
    __mul__, __rmul__ = _operator("Mul"), _operator("Mul", reflected=True)
    __truediv__, __rtruediv__ = _operator("Div"), _operator("Div", reflected=True)
    __matmul__, __rmatmul__ = _operator("MatMul"), _operator("MatMul", reflected=True)

    def __neg__(self):
        return ops.Neg(self)

    @property
    def T(self):
        return ops.Transpose(self)


class Leaf(Node):
    """A node without dependencies: its `.values` are given, not computed. `name` labels it."""

    __slots__ = ("name",)

    def __init__(self, values, name):
        super().__init__(values)
        self.name = name

    @property
    def values(self):
        return self.value

    @values.setter
    def values(self, new_values):
        self.assign(new_values)

    def label(self):
        return f"{type(self).__name__}({self.name})" if self.name else self.unnamed_label()


class Variable(Leaf):
    """A value that is not learned: an input or a constant."""

    __slots__ = ()

    def __init__(self, values, name=None, dtype=None):
        super().__init__(as_array(values, dtype), name)

    def assign(self, new_values):
        self.value = as_array(new_values, self.value.dtype)

    def unnamed_label(self):
        return f"Constant({_summary(self.value)})"


Constant = Variable


class Parameter(Leaf):
    """A learnable leaf. Optimizers update its `.values` array in place (it may be a view into a flat
    buffer that a model shares), so assigning `.values` copies into that array."""

    __slots__ = ()

    def __init__(self, values, name=None, dtype=None):
        super().__init__(np.array(as_array(values, dtype)), name)
        self.grad = np.zeros_like(self.value)

    def assign(self, new_values):
        new_values = np.asarray(new_values)
        if new_values.shape != self.value.shape:
            raise ValueError(
                f"{self.label()}: cannot assign values of shape {new_values.shape} to {self.shape}"
            )
        self.value[...] = new_values

    def zero_grad(self):
        self.grad = np.zeros_like(self.value)

    def unnamed_label(self):
        return f"{type(self).__name__}({_summary(self.value)})"


class LearnableParameter(Parameter):
    """The seed's learnable tensor, initialised uniformly on [0, 1)."""

    __slots__ = ()

    def __init__(self, shape, rng=None, name=None, dtype=None):
        rng = _default_rng if rng is None else np.random.default_rng(rng)
        super().__init__(rng.random(tuple(shape)), name=name, dtype=dtype)


class Matrix(Parameter):
    """The seed's weight matrix: holds `[out_features, in_channels]`, initialised uniformly on [0, 1)."""

    __slots__ = ()

    def __init__(self, in_channels, out_features, rng=None, name=None, dtype=None):
        rng = _default_rng if rng is None else np.random.default_rng(rng)
        super().__init__(rng.random((out_features, in_channels)), name=name, dtype=dtype)

    def unnamed_label(self):
        return f"Matrix({list(self.shape)})"

    def transposed(self):
        """The transpose as a differentiable node, right for every shape (unlike the seed's)."""
        return self.T


def _depth_first_order(root):
    # Recursive: three times faster than an explicit stack for the small graphs of a training step.
    order, visited = [], set()

    def visit(node):
        visited.add(node)
        for dep in node.dependencies:
            if dep not in visited:
                visit(dep)
        order.append(node)

    visit(root)
    return order


def _depth_first_order_iterative(root):
    """The same order as `_depth_first_order`, for graphs deeper than Python's recursion limit."""
    order, visited = [], {root}
    stack = [(root, iter(root.dependencies))]
    while stack:
        node, deps = stack[-1]
        for dep in deps:
            if dep not in visited:
                visited.add(dep)
                stack.append((dep, iter(dep.dependencies)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _summary(array, limit=8):
    if array.size <= limit:
        return str(np.round(array, 3).ravel().tolist())
    return f"shape={list(array.shape)}"


# At the bottom: ops and dot build on the classes above.
from engine import dot, ops  # noqa: E402
