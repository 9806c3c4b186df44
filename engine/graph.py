"""The graph: nodes that hold their values, know their dependencies, and run backward.

Evaluation is eager: an op computes its `.values` once, when it is constructed, and `materialize()`
returns that cached array. Backward only reads cached values, so it refuses a graph whose parameters
changed after its forward pass (see `Parameter`).
"""

import itertools
from heapq import heappop, heappush
from operator import attrgetter

import numpy as np

DEFAULT_DTYPE = np.float64

_default_rng = np.random.default_rng()

# Two counters. `_ticks` orders events: each node takes one when it is built (`created`), each change
# of parameter values one (`changed_at`, the latest also in `_last_change`), so a node used a
# parameter's current values if and only if the parameter's `changed_at` is below the node's
# `created`. Ordering the nodes by `created` is a topological order (ops are built after their
# inputs). `_passes` counts calls of `backward`: a node whose `grad_pass` is the current pass
# already holds a gradient of this pass.
_ticks = itertools.count(1)
_last_change = 0
_passes = 0
_by_creation = attrgetter("created")


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
    dtype = like.values.dtype if isinstance(like, Node) and not isinstance(value, np.ndarray) else None
    return Constant(as_array(value, dtype))


def mark_changed(parameters):
    """Record that the values of `parameters` changed: graphs built before can no longer run backward."""
    global _last_change
    _last_change = tick = next(_ticks)
    for p in parameters:
        p.changed_at = tick


def _operator(op_name, reflected=False):
    """An operator method that builds the op `engine.ops.<op_name>`, operands swapped if `reflected`."""

    def operator(self, other):
        op = getattr(ops, op_name)
        return op(other, self) if reflected else op(self, other)

    operator.__name__ = op_name
    return operator


class Node:
    """A value in the graph: `.values` (an ndarray) and, after backward, `.grad` of the same shape.
    Subclasses that have dependencies implement `backward_step`."""

    __slots__ = ("values", "grad", "dependencies", "grad_pass", "created")
    changed_at = 0  # only parameters change after they are built

    def __init__(self, values, dependencies=()):
        self.values = values
        self.grad = None
        self.dependencies = dependencies
        self.grad_pass = 0
        self.created = next(_ticks)

    @property
    def shape(self):
        return self.values.shape

    @property
    def dtype(self):
        return self.values.dtype

    def materialize(self):
        return self.values

    def item(self):
        return self.values.item()

    def backward_step(self, grad):
        """The gradients for `self.dependencies`, in order, given the gradient of this node."""
        raise NotImplementedError(type(self).__name__)

    def grad_destination(self):
        """An array an op may write this node's gradient into, or None: see `Parameter`."""
        return None

    def topological_order(self):
        """Every node this one depends on, dependencies before dependents, ending with this node.

        Ops are built after their inputs (evaluation is eager), so the order of construction is a
        topological order: collect what is reachable, then sort it by `created`."""
        reached, stack = {self}, [self]
        while stack:
            for dep in stack.pop().dependencies:
                if dep not in reached:
                    reached.add(dep)
                    stack.append(dep)
        return sorted(reached, key=_by_creation)

    # The seed's name for it.
    get_topo_sorted_list_of_deps = topological_order

    def backward(self, grad=None):
        """Set every node's `.grad` to the gradient of this node with respect to it, replacing the
        gradients of any earlier backward (nothing accumulates across calls).

        `grad` is the upstream gradient, of this node's shape; it may be left out only for a node of
        one element (then it is 1). For a per-run loss of shape [R], `backward(np.ones(R))` gives each
        run the gradient of its own loss. Nodes may share one gradient array (both inputs of an Add get
        the same one): read `.grad`, do not modify it in place.

        The nodes are visited in reverse topological order, newest first: a node is built after its
        inputs, so every node that uses it is newer, and its gradient is complete when it is visited.
        A heap of the nodes reached so far yields the newest, so the order costs no separate pass."""
        global _passes
        grad = self._seed_gradient(grad)
        _passes += 1
        this_pass = _passes
        self.grad_pass, self.grad = this_pass, grad
        reached = [(-self.created, self)] if self.dependencies else []
        while reached:
            newest, node = heappop(reached)
            if -newest < _last_change:  # a parameter changed after this node was built: was it used?
                node._refuse_changed_dependencies()
            grads = node.backward_step(node.grad)  # one per dependency: tests gradcheck every op
            for i, dep in enumerate(node.dependencies):  # cheaper than zip(..., strict=True) here
                grad = grads[i]
                shape = dep.values.shape
                if grad.shape != shape:
                    grad = ops.unbroadcast(grad, shape)
                if dep.grad_pass == this_pass:
                    dep.grad = dep.grad + grad
                else:
                    dep.grad_pass, dep.grad = this_pass, grad
                    if dep.dependencies:  # a leaf has no gradients to pass on
                        heappush(reached, (-dep.created, dep))

    def _refuse_changed_dependencies(self):
        for dep in self.dependencies:
            if dep.changed_at > self.created:
                raise RuntimeError(
                    f"{dep.label()} changed (an optimizer step or an assignment) after {self.label()} "
                    "used it: backward would mix old and new values. Call backward before changing "
                    "parameters, or build the graph again."
                )

    def _seed_gradient(self, grad):
        """The upstream gradient `backward` starts from: `grad` checked, or 1 for one element."""
        if grad is None:
            if self.values.size != 1:
                raise ValueError(
                    f"backward() on {self.label()} of shape {self.shape}: only a node of one element has "
                    f"an implied gradient; pass backward(grad), an upstream gradient of shape {self.shape}"
                )
            return np.ones(self.values.shape, self.values.dtype)
        grad = as_array(grad, self.values.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad): grad has shape {grad.shape}, {self.label()} has {self.shape}")
        return grad

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


_node_values, _node_grad = Node.values, Node.grad  # the slots, under Parameter's properties


class Leaf(Node):
    """A node without dependencies: its `.values` are given, not computed. `name` labels it."""

    __slots__ = ("name",)

    def label(self):
        return f"{type(self).__name__}({self.name})" if self.name else self.unnamed_label()


class Variable(Leaf):
    """A value that is not learned: an input or a constant. Assigning `.values` replaces the array."""

    __slots__ = ()

    def __init__(self, values, name=None, dtype=None):
        super().__init__(as_array(values, dtype))
        self.name = name

    def unnamed_label(self):
        return f"Constant({_summary(self.values)})"


Constant = Variable


class Parameter(Leaf):
    """A learnable leaf.

    `.values` is a read-only view: a parameter changes only through its buffer (an optimizer's step)
    or by assignment, `p.values = new`, which copies into its array. Both are counted, and backward
    refuses a graph built before its parameters changed. `.grad` is the parameter's own array, which
    backward overwrites (and an op may write into directly); assigning `.grad` copies into it.

    A parameter starts with arrays of its own; a `ParameterBuffer` (made by a model, or by an
    optimizer given loose parameters) moves it into one flat array shared with other parameters."""

    __slots__ = ("buffer", "changed_at", "_writable")

    def __init__(self, values, name=None, dtype=None):
        values = np.array(as_array(values, dtype))
        self.dependencies, self.grad_pass, self.created = (), 0, next(_ticks)  # Node's, past `values`
        self.name = name
        self.changed_at = 0
        self.attach(values, np.zeros_like(values), buffer=None)

    def attach(self, values, grad, buffer):
        """Hold `values` and `grad` (writable arrays of the parameter's shape) from now on."""
        self._writable = values
        read_only = values.view()
        read_only.flags.writeable = False
        _node_values.__set__(self, read_only)
        _node_grad.__set__(self, grad)
        self.buffer = buffer

    def _assign_values(self, new_values):
        new_values = np.asarray(new_values)
        if new_values.shape != self.shape:
            raise ValueError(
                f"{self.label()}: cannot assign values of shape {new_values.shape} to {self.shape}"
            )
        self._writable[...] = new_values
        mark_changed([self])

    def _assign_grad(self, new_grad):
        grad = _node_grad.__get__(self)
        if new_grad is not grad:
            np.copyto(grad, new_grad)

    values = property(_node_values.__get__, _assign_values)
    grad = property(_node_grad.__get__, _assign_grad)

    def grad_destination(self):
        """`.grad` while it holds no gradient of the running backward pass, so that an op can write
        its gradient there without a temporary; else None."""
        return _node_grad.__get__(self) if self.grad_pass != _passes else None

    def unnamed_label(self):
        return f"{type(self).__name__}({_summary(self.values)})"


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


def _summary(array, limit=8):
    if array.size <= limit:
        return str(np.round(array, 3).ravel().tolist())
    return f"shape={list(array.shape)}"


# At the bottom: ops and dot build on the classes above.
from engine import dot, ops  # noqa: E402
