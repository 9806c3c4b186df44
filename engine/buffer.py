"""One flat array for many parameters, so that an optimizer updates them all with a few whole-array
operations and no per-step allocation."""

import numpy as np

from engine.graph import Parameter, mark_changed


class ParameterBuffer:
    """Parameters back to back in one array `values` of shape [rows, size], and their gradients in
    `grads` alike. Without a runs axis there is one row; with `runs=R` every parameter has a leading
    axis of length R and run r's part of each parameter lies in row r, so that per-run
    hyperparameters are [R, 1] columns and a run can be left out of a step by its row.

    Each parameter's `.values` and `.grad` become views of its part (its values are copied in). A
    model makes one for its parameters; an optimizer given loose parameters makes one for them.
    Code that writes into `values` itself (optimizers do) must call `changed()` afterwards."""

    def __init__(self, parameters, runs=None):
        self.parameters = list(parameters)
        self.runs = runs
        if not self.parameters:
            raise ValueError("ParameterBuffer: got an empty list of parameters")
        if not all(isinstance(p, Parameter) for p in self.parameters):
            raise TypeError("ParameterBuffer: every item must be a Parameter")
        dtypes = {p.dtype for p in self.parameters}
        if len(dtypes) != 1:
            raise ValueError(f"ParameterBuffer: parameters of one dtype only, got {sorted(map(str, dtypes))}")
        if runs is not None and any(p.values.ndim == 0 or p.shape[0] != runs for p in self.parameters):
            raise ValueError(
                f"ParameterBuffer: with runs={runs} every parameter needs a leading axis of {runs}"
            )
        rows = 1 if runs is None else runs
        sizes = [p.values.size // rows for p in self.parameters]
        self.values = np.empty((rows, sum(sizes)), dtype=dtypes.pop())
        self.grads = np.zeros_like(self.values)
        start = 0
        for p, size in zip(self.parameters, sizes, strict=True):
            part = slice(start, start + size)
            values, grads = (self._view(array[:, part], p.shape) for array in (self.values, self.grads))
            values[...] = p.values
            p.attach(values, grads, buffer=self)
            start += size

    def _view(self, columns, shape):
        return np.reshape(columns if self.runs is not None else columns[0], shape, copy=False)

    def changed(self):
        """Record that `values` changed: graphs built before can no longer run backward."""
        mark_changed(self.parameters)


def buffer_of(parameters, owner):
    """The buffer an optimizer (named `owner` in errors) updates: a `ParameterBuffer` as given, the
    buffer that holds exactly the given parameters, or a new one for parameters that have none."""
    if isinstance(parameters, ParameterBuffer):
        return parameters
    parameters = list(parameters)
    if not parameters:
        raise ValueError(f"{owner}: got an empty list of parameters")
    buffer = getattr(parameters[0], "buffer", None)
    if buffer is not None and set(buffer.parameters) == set(parameters):
        return buffer
    if any(getattr(p, "buffer", None) is not None for p in parameters):
        raise ValueError(
            f"{owner}: these parameters share a buffer with others; pass them all together "
            "(model.parameters() or model.buffer)"
        )
    return ParameterBuffer(parameters)
