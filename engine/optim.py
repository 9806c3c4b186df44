"""Optimizers. Each keeps its state in flat arrays and updates all parameters with a few vectorised
ops. When the parameters' arrays lie back to back in one buffer (as `engine.nn` lays them out) the
update runs on that buffer in place; otherwise the values are gathered and written back each step.
The results are the same bit for bit either way: every op is elementwise.
"""

import numpy as np


def contiguous_span(arrays):
    """A 1-D view of the memory that `arrays` fill back to back, in order, or None if they do not."""
    root = arrays[0]
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.c_contiguous:
        return None
    root_start = root.__array_interface__["data"][0]
    position = start = arrays[0].__array_interface__["data"][0]
    for array in arrays:
        if (
            not array.flags.c_contiguous
            or array.dtype != root.dtype
            or array.__array_interface__["data"][0] != position
        ):
            return None
        position += array.nbytes
    if position > root_start + root.nbytes or start < root_start:
        return None
    offset = (start - root_start) // root.itemsize
    return root.reshape(-1)[offset : offset + (position - start) // root.itemsize]


class Optimizer:
    def __init__(self, parameters, lr):
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        self.lr = lr
        self._span = contiguous_span([p.value for p in self.parameters])
        sizes = [p.value.size for p in self.parameters]
        self._bounds = list(zip(np.cumsum([0, *sizes[:-1]]).tolist(), np.cumsum(sizes).tolist(), strict=True))
        self._size = sum(sizes)
        self._dtype = self.parameters[0].value.dtype

    def zeros(self):
        return np.zeros(self._size, dtype=self._dtype)

    def zero_grad(self):
        for p in self.parameters:
            p.zero_grad()

    def step(self):
        grad = np.concatenate([p.grad.ravel() for p in self.parameters])
        if self._span is not None:
            self._update(self._span, grad)
            return
        values = np.concatenate([p.value.ravel() for p in self.parameters])
        self._update(values, grad)
        for p, (start, stop) in zip(self.parameters, self._bounds, strict=True):
            p.value[...] = values[start:stop].reshape(p.value.shape)

    def _update(self, p, g):
        """Update the flat parameter array `p` in place from the flat gradient `g`."""
        raise NotImplementedError


class SeedAdamW(Optimizer):
    """The seed's optimizer, exactly: no bias correction, weight decay applied after the step.

        m1 = b1*m1 + (1-b1)*g;  m2 = b2*m2 + (1-b2)*g*g;  var = m2 - m1*m1
        p -= lr*m1 / (sqrt(var) + eps);  p -= weight_decay*lr*p

    `var` is clamped at 0. With b1 == b2 (the seed's run) it is never negative and the clamp changes
    nothing; with b1 != b2 it can be (first step with (0.9, 0.999): 0.001g^2 - 0.01g^2 < 0), where the
    seed's Python would take a complex square root. Clamped, that step is lr*m1/eps: large but finite.
    """

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), weight_decay=0.01, eps=1e-8):
        super().__init__(parameters, lr)
        self.betas, self.weight_decay, self.eps = tuple(betas), weight_decay, eps
        self.moment_1, self.moment_2 = self.zeros(), self.zeros()

    def _update(self, p, g):
        b1, b2 = self.betas
        m1, m2 = self.moment_1, self.moment_2
        m1 *= b1
        m1 += g * (1 - b1)
        m2 *= b2
        m2 += (g * g) * (1 - b2)
        variance = np.maximum(m2 - m1 * m1, 0.0)
        p -= self.lr * m1 / (np.sqrt(variance) + self.eps)
        p -= self.weight_decay * self.lr * p


class Adam(Optimizer):
    """Adam with bias correction; weight decay is L2, added to the gradient (as `torch.optim.Adam`)."""

    decoupled_weight_decay = False

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(parameters, lr)
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self.moment_1, self.moment_2 = self.zeros(), self.zeros()
        self.steps = 0

    def _update(self, p, g):
        if self.weight_decay and self.decoupled_weight_decay:
            p *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * p
        b1, b2 = self.betas
        self.steps += 1
        m1, m2 = self.moment_1, self.moment_2
        m1 *= b1
        m1 += (1 - b1) * g
        m2 *= b2
        m2 += (1 - b2) * (g * g)
        step_size = self.lr / (1 - b1**self.steps)
        denominator = np.sqrt(m2) / np.sqrt(1 - b2**self.steps) + self.eps
        p -= step_size * (m1 / denominator)


class AdamW(Adam):
    """Adam with decoupled weight decay: `p *= 1 - lr*weight_decay` before the step (`torch.optim.AdamW`)."""

    decoupled_weight_decay = True

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(parameters, lr, betas, eps, weight_decay)


class SGD(Optimizer):
    """SGD with L2 weight decay and heavy-ball momentum (as `torch.optim.SGD` without dampening)."""

    def __init__(self, parameters, lr=0.001, momentum=0.0, weight_decay=0.0):
        super().__init__(parameters, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = None

    def _update(self, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            self.velocity = g.copy() if self.velocity is None else self.momentum * self.velocity + g
            g = self.velocity
        p -= self.lr * g


OPTIMIZERS = {"seed_adamw": SeedAdamW, "adamw": AdamW, "adam": Adam, "sgd": SGD}
