"""The graph's semantics: cached values, backward as the seed's, gradient shapes, dtypes, DOT export."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from engine import (
    Affine,
    Constant,
    LeakyRelu,
    LearnableParameter,
    Matrix,
    Mean,
    Reduce,
    Sin,
    Square,
    Tanh,
    Variable,
    VectorMatrixMultiply,
    manual_seed,
    tensor_from_list,
)


def small_seed_graph(x_values):
    m0, b0 = Matrix(in_channels=1, out_features=3, rng=0), LearnableParameter(shape=[3], rng=1)
    m1, b1 = Matrix(in_channels=3, out_features=1, rng=2), LearnableParameter(shape=[1], rng=3)
    x = Variable(x_values, name="x")
    z = LeakyRelu(VectorMatrixMultiply(tensor=x, matrix=m0) + b0, negative_slope=0.1)
    prediction = VectorMatrixMultiply(tensor=z, matrix=m1) + b1
    loss = Reduce(Square(prediction - (x * x * Constant(tensor_from_list([2.0])) + Sin(x))))
    return loss, (x, m0, b0, m1, b1)


def test_seed_vocabulary_values_have_the_seeds_layout():
    m = Matrix(in_channels=3, out_features=2)
    assert m.values.shape == (2, 3) and m.values.dtype == np.float64
    assert LearnableParameter(shape=[4]).values.shape == (4,)
    assert np.all((m.values >= 0) & (m.values < 1))
    assert tensor_from_list([[1, 2], [3, 4]]).dtype == np.float64
    assert Variable(tensor_from_list([0.5])).values.tolist() == [0.5]


def test_parameter_values_change_only_by_assignment_which_copies_in_place():
    m = Matrix(in_channels=2, out_features=2)
    array = m.values
    m.values = [[1.0, 2.0], [3.0, 4.0]]
    assert m.values is array and array.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError, match="read-only"):
        m.values[...] = np.eye(2)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        m.values = np.ones(3)
    assert array.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_after_backward_every_node_has_a_grad_of_its_shape():
    loss, _ = small_seed_graph(np.array([[0.3], [-0.7]]))
    loss.backward()
    order = loss.topological_order()
    for position, node in enumerate(order):
        assert isinstance(node.grad, np.ndarray) and node.grad.shape == node.shape, node.label()
        assert all(order.index(dep) < position for dep in node.dependencies), node.label()
    affine = Affine(Variable(np.ones((2, 3))), Matrix(3, 2), np.zeros(2))  # a bias given as an array
    assert affine.topological_order()[-1] is affine
    assert loss.grad.tolist() == [1.0]


def test_backward_zeroes_instead_of_accumulating():
    loss, leaves = small_seed_graph(np.array([0.4]))
    loss.backward()
    first = [leaf.grad.copy() for leaf in leaves]
    loss.backward()
    for leaf, grad in zip(leaves, first, strict=True):
        np.testing.assert_array_equal(leaf.grad, grad)


def test_a_node_used_twice_gets_the_sum_of_both_gradients():
    x = Variable([3.0])
    (x * x + x).backward()
    assert x.grad.tolist() == [7.0]


def test_gradients_match_a_hand_derivation():
    x, w = Variable([[2.0]]), Matrix(in_channels=1, out_features=1)
    w.values = [[3.0]]
    loss = Reduce(Square(VectorMatrixMultiply(x, w) - 1.0))  # (3*2 - 1)^2
    loss.backward()
    assert loss.item() == 25.0
    assert w.grad.tolist() == [[20.0]] and x.grad.tolist() == [[30.0]]


def test_values_are_computed_once_and_backward_recomputes_nothing(monkeypatch):
    calls = {"tanh": 0, "sin": 0}
    real_tanh, real_sin = np.tanh, np.sin

    def counting(name, function):
        def counted(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return counted

    monkeypatch.setattr(np, "tanh", counting("tanh", real_tanh))
    monkeypatch.setattr(np, "sin", counting("sin", real_sin))
    x = Variable(np.linspace(-1, 1, 5))
    node = x
    for _ in range(10):
        node = Sin(Tanh(node))
    loss = Reduce(node)
    assert calls == {"tanh": 10, "sin": 10}
    assert loss.materialize() is loss.materialize()
    loss.backward()
    loss.backward()
    assert calls == {"tanh": 10, "sin": 10}


def test_deep_graph_beyond_the_recursion_limit():
    x = Variable([1.0])
    node = x
    for _ in range(5000):
        node = node + 1.0
    order = node.topological_order()
    assert len(order) == 10001 and order[0] is x and order[-1] is node
    node.backward()
    assert x.grad.tolist() == [1.0]


def test_float32_graphs_stay_float32():
    x = Variable(np.ones((2, 3), dtype=np.float32))
    m = Matrix(in_channels=3, out_features=2, dtype=np.float32)
    loss = Mean(Square(LeakyRelu(VectorMatrixMultiply(x, m) * 2.0 + 1.0) / 3.0 - 0.5))
    loss.backward()
    assert loss.values.dtype == np.float32 and m.grad.dtype == np.float32 and x.grad.dtype == np.float32
    assert Variable([1, 2]).values.dtype == np.float64


def test_manual_seed_makes_the_seed_vocabulary_reproducible():
    manual_seed(7)
    first = Matrix(in_channels=2, out_features=3).values.copy(), LearnableParameter(shape=[3]).values.copy()
    manual_seed(7)
    second = Matrix(in_channels=2, out_features=3).values, LearnableParameter(shape=[3]).values
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def parse_dot(text):
    """(node ids, edges); asserts the text is a digraph of node and edge statements with quoted labels."""
    lines = text.strip().splitlines()
    assert lines[0] == "digraph G {" and lines[-1] == "}"
    nodes, edges = [], []
    for line in lines[1:-1]:
        if node := re.fullmatch(r'\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"\];', line):
            nodes.append(node.group(1))
        elif edge := re.fullmatch(r"\s*(n\d+) -> (n\d+);", line):
            edges.append(edge.groups())
        else:
            raise AssertionError(f"not a DOT statement: {line!r}")
    return nodes, edges


def test_dot_graph_is_valid_and_stable():
    loss, _ = small_seed_graph(np.array([0.2]))
    text = loss.pretty_print_dot_graph()
    assert text == loss.pretty_print_dot_graph()
    nodes, edges = parse_dot(text)
    assert len(nodes) == len(set(nodes)) == len(loss.topological_order())
    assert edges and all(a in nodes and b in nodes for a, b in edges)
    assert 'label="Variable(x)"' in text and "Matrix([3, 1])" in text


def test_dot_labels_are_escaped():
    odd = Variable([1.0], name='a "quoted" \\name\nover two lines')
    text = Square(odd).pretty_print_dot_graph()
    nodes, _ = parse_dot(text)
    assert len(nodes) == 2
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=text, text=True, check=True, capture_output=True)


def test_a_parameter_changed_between_forward_and_backward_is_refused():
    from engine.nn import MLP
    from engine.optim import SGD

    model = MLP(1, [3], 1, rng=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    loss = Mean(Square(model(np.ones((2, 1)))))
    loss.backward()
    optimizer.step()  # after backward: fine
    with pytest.raises(RuntimeError, match=r"Parameter\(layers\.1\.weight\) changed .* after Affine used it"):
        loss.backward()
    loss = Mean(Square(model(np.ones((2, 1)))))
    model.parameters()[0].values = np.zeros((3, 1))
    with pytest.raises(RuntimeError, match=r"layers\.0\.weight\) changed"):
        loss.backward()
    with pytest.raises(ValueError, match="read-only"):  # the only other way in is refused at once
        model.parameters()[0].values[0] = 1.0
    Mean(Square(model(np.ones((2, 1))))).backward()  # a graph built after the change is fine


def test_backward_on_more_than_one_element_needs_an_upstream_gradient():
    x = Variable([1.0, 2.0, 3.0])
    y = Square(x)
    with pytest.raises(ValueError, match=r"backward\(\) on Square of shape \(3,\).*pass backward\(grad\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\), Square has \(3,\)"):
        y.backward(np.ones(2))
    y.backward(np.array([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [2.0, 0.0, 12.0]
    Reduce(y).backward()  # one element: the gradient 1 is implied
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_a_change_to_a_parameter_the_graph_does_not_use_leaves_backward_as_it_was():
    from engine.nn import MLP
    from engine.optim import SGD

    used, other = MLP(1, [3], 1, rng=0), MLP(1, [3], 1, rng=1)
    loss = Mean(Square(used(np.ones((2, 1)))))
    loss.backward()
    expected = [p.grad.copy() for p in used.parameters()]
    other.parameters()[0].values = np.zeros((3, 1))  # after the graph was built
    SGD(other.parameters(), lr=0.1).step()
    loss.backward()
    for p, grad in zip(used.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, grad)
