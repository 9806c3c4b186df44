"""Optimizers. Each updates a `ParameterBuffer` (a model's, or one it makes for loose parameters) in
place, with its state in arrays of the buffer's shape and two scratch arrays, so a step allocates
no large array.

Hyperparameters are numbers, or, for a model with a runs axis, one value per run (`lr`,
`weight_decay`, each of `betas`, `eps`, `momentum`): they are kept as [R, 1] columns. `step(active)`
leaves the runs where `active` is False exactly as they were, parameters and optimizer state alike.
Every update is elementwise, so each run's numbers are those of the same optimizer on that run alone.
"""

import math
from collections.abc import Sequence

import numpy as np

from engine.buffer import buffer_of

# (what is allowed, the test) for `Optimizer.hyperparameter`
NON_NEGATIVE = ("a number >= 0", lambda v: v >= 0)
POSITIVE = ("a number > 0", lambda v: v > 0)
BELOW_ONE = ("in [0, 1)", lambda v: (v >= 0) & (v < 1))


def _powers(base, steps):
    """`base**steps` per run (an [R, 1] column), by libm's `pow` one run at a time: NumPy's vectorized
    power rounds by the array's length (NumPy 2.4: 0.8**2 is 0.64 in an array of 4, 0.6400000000000001
    alone), which would break the runs axis' bit equality with single runs."""
    bases = np.broadcast_to(base, steps.shape)
    powers = [math.pow(b, s) for b, s in zip(bases.flat, steps.flat, strict=True)]
    return np.array(powers).reshape(steps.shape)


def _update_moments(m1, m2, g, betas, scratch):
    """`m1 = b1*m1 + (1-b1)*g`, `m2 = b2*m2 + (1-b2)*g*g` in place: the moments of Adam and of the seed's
    optimizer alike, in the same operations (bit for bit)."""
    b1, b2 = betas
    m1 *= b1
    np.multiply(g, 1 - b1, out=scratch)
    m1 += scratch
    m2 *= b2
    np.multiply(g, g, out=scratch)
    scratch *= 1 - b2
    m2 += scratch


def _nonzero(value):
    return np.any(value) if isinstance(value, np.ndarray) else value != 0


class Optimizer:
    def __init__(self, parameters, lr):
        self.buffer = buffer_of(parameters, type(self).__name__)
        self.parameters = self.buffer.parameters
        self.lr = self.hyperparameter("lr", lr, *NON_NEGATIVE)
        self._scratch = self.zeros(), self.zeros()

    def hyperparameter(self, name, value, allowed, is_allowed):
        """`value` as a float, or as an [R, 1] column when one value per run is given; a ValueError
        naming `name` and what is `allowed` when it is not."""
        where = f"{type(self).__name__}: {name} must be {allowed}"
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{where}, got {value!r}") from None
        if array.ndim == 1 and self.buffer.runs is None:
            raise ValueError(f"{where}; one value per run needs a model with a runs axis, got {value!r}")
        if array.ndim > 1 or (array.ndim == 1 and len(array) != self.buffer.runs):
            raise ValueError(f"{where}, one number or one per run ({self.buffer.runs}), got {value!r}")
        if not np.all(is_allowed(array)):
            raise ValueError(f"{where}, got {value!r}")
        return float(array) if array.ndim == 0 else array.reshape(-1, 1)

    def betas_pair(self, betas):
        is_pair = (isinstance(betas, Sequence) and not isinstance(betas, str)) or np.ndim(betas) == 1
        if not is_pair or len(betas) != 2:
            raise ValueError(
                f"{type(self).__name__}: betas must be a pair (b1, b2), each a number in [0, 1) "
                f"or one per run, got {betas!r}"
            )
        return tuple(
            self.hyperparameter(name, beta, *BELOW_ONE)
            for name, beta in zip(("betas[0]", "betas[1]"), betas, strict=True)
        )

    def zeros(self):
        return np.zeros_like(self.buffer.values)

    def state(self):
        """The arrays of optimizer state, each with one row per run."""
        return []

    def step(self, active=None):
        """Update the parameters from their gradients. `active`: one bool per run (per row of the
        buffer); runs where it is False keep their parameters and state exactly."""
        values, grads = self.buffer.values, self.buffer.grads
        if active is None:
            self._update(values, grads)
        else:
            active = np.asarray(active, dtype=bool)
            if active.shape != (len(values),):
                raise ValueError(
                    f"step(active): need one bool per run, shape ({len(values)},), got {active.shape}"
                )
            frozen = ~active
            kept = [(array, array[frozen]) for array in [values, *self.state()]]
            with np.errstate(all="ignore"):  # the frozen runs' numbers are thrown away
                self._update(values, grads)
            for array, saved in kept:
                array[frozen] = saved
        self.buffer.changed()

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
        self.betas = self.betas_pair(betas)
        self.weight_decay = self.hyperparameter(
            "weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0
        )
        self.eps = self.hyperparameter("eps", eps, *POSITIVE)
        self.moment_1, self.moment_2 = self.zeros(), self.zeros()

    def state(self):
        return [self.moment_1, self.moment_2]

    def _update(self, p, g):
        lr, m1, m2, (t, u) = self.lr, self.moment_1, self.moment_2, self._scratch
        _update_moments(m1, m2, g, self.betas, t)
        np.multiply(m1, m1, out=t)
        np.subtract(m2, t, out=t)
        np.maximum(t, 0.0, out=t)
        np.sqrt(t, out=t)
        t += self.eps
        np.multiply(m1, lr, out=u)
        u /= t
        p -= u
        np.multiply(p, self.weight_decay * lr, out=u)
        p -= u


class Adam(Optimizer):
    """Adam with bias correction; weight decay is L2, added to the gradient (as `torch.optim.Adam`)."""

    decoupled_weight_decay = False

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(parameters, lr)
        self.betas = self.betas_pair(betas)
        self.eps = self.hyperparameter("eps", eps, *POSITIVE)
        self.weight_decay = self.hyperparameter(
            "weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0
        )
        self.moment_1, self.moment_2 = self.zeros(), self.zeros()
        self.steps = np.zeros((len(self.buffer.values), 1), dtype=np.int64)  # per run: a frozen run's stays

    def state(self):
        return [self.moment_1, self.moment_2, self.steps]

    def _update(self, p, g):
        (b1, b2), lr, weight_decay = self.betas, self.lr, self.weight_decay
        m1, m2, (t, u) = self.moment_1, self.moment_2, self._scratch
        if _nonzero(weight_decay) and self.decoupled_weight_decay:
            p *= 1 - lr * weight_decay
        elif _nonzero(weight_decay):
            np.multiply(p, weight_decay, out=u)
            u += g
            g = u
        self.steps += 1
        _update_moments(m1, m2, g, self.betas, t)
        step_size = lr / (1 - _powers(b1, self.steps))
        np.sqrt(m2, out=t)
        t /= np.sqrt(1 - _powers(b2, self.steps))
        t += self.eps
        np.divide(m1, t, out=t)
        t *= step_size
        p -= t


class AdamW(Adam):
    """Adam with decoupled weight decay: `p *= 1 - lr*weight_decay` before the step (`torch.optim.AdamW`)."""

    decoupled_weight_decay = True

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(parameters, lr, betas, eps, weight_decay)


class SGD(Optimizer):
    """SGD with L2 weight decay and heavy-ball momentum (as `torch.optim.SGD` without dampening)."""

    def __init__(self, parameters, lr=0.001, momentum=0.0, weight_decay=0.0):
        super().__init__(parameters, lr)
        self.momentum = self.hyperparameter("momentum", momentum, *BELOW_ONE)
        self.weight_decay = self.hyperparameter(
            "weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0
        )
        self.velocity = self.zeros()

    def state(self):
        return [self.velocity]

    def _update(self, p, g):
        t, u = self._scratch
        if _nonzero(self.weight_decay):
            np.multiply(p, self.weight_decay, out=t)
            t += g
            g = t
        if _nonzero(self.momentum):
            self.velocity *= self.momentum
            self.velocity += g
            g = self.velocity
        np.multiply(g, self.lr, out=u)
        p -= u


OPTIMIZERS = {"seed_adamw": SeedAdamW, "adamw": AdamW, "adam": Adam, "sgd": SGD}
