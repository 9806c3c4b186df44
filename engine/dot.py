"""Graphviz DOT export of a graph. Node ids are their position in topological order, so the same
graph always gives the same text; labels are escaped so any name is valid DOT."""


def escape_label(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(root):
    """The graph that `root` depends on, edges from each node to its dependencies (as the seed)."""
    order = root.topological_order()
    node_id = {id(node): f"n{i}" for i, node in enumerate(order)}
    lines = ["digraph G {"]
    for node in order:
        lines.append(f'    {node_id[id(node)]} [label="{escape_label(node.label())}"];')
        lines.extend(f"    {node_id[id(node)]} -> {node_id[id(dep)]};" for dep in node.dependencies)
    lines.append("}")
    return "\n".join(lines) + "\n"
