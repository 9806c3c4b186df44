"""Check a graph's gradients against central finite differences (after HIPS autograd's `check_grads`)."""

import numpy as np

from engine.graph import Variable
from engine.ops import Mul, Reduce


def gradcheck(fn, inputs, eps=1e-6, rtol=1e-5, atol=1e-8, seed=0):
    """Assert that backward through `fn(*variables)` gives d(sum(w * output))/d(input) for every input,
    `w` a fixed random array, matching central differences in float64. Returns the analytic gradients."""
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    variables = [Variable(x) for x in inputs]
    output = fn(*variables)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, output.shape)

    def scalar(*arrays):
        return Reduce(Mul(fn(*[Variable(a) for a in arrays]), weights)).item()

    Reduce(Mul(output, weights)).backward()
    for index, (x, variable) in enumerate(zip(inputs, variables, strict=True)):
        if variable.grad.shape != x.shape:
            raise AssertionError(
                f"input {index}: gradient shape {variable.grad.shape} != input shape {x.shape}"
            )
        numeric = np.zeros_like(x)
        for position in np.ndindex(x.shape):
            shifted = [a.copy() for a in inputs]
            shifted[index][position] = x[position] + eps
            above = scalar(*shifted)
            shifted[index][position] = x[position] - eps
            below = scalar(*shifted)
            numeric[position] = (above - below) / (2 * eps)
        np.testing.assert_allclose(
            variable.grad, numeric, rtol=rtol, atol=atol, err_msg=f"input {index} of shape {x.shape}"
        )
    return [variable.grad for variable in variables]
