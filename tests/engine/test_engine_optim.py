"""Each optimizer against its update formula, written out by hand per parameter, step by step."""

import numpy as np
import pytest

from engine import Parameter
from engine.nn import MLP
from engine.optim import OPTIMIZERS, SGD, Adam, AdamW, SeedAdamW

STEPS = 25


def make_parameters(rng):
    return [Parameter(rng.normal(size=shape)) for shape in [(3, 2), (3,), (1,)]]


def run(optimizer_class, kwargs, reference_step, seed=0):
    """Step the optimizer and the hand-written reference on the same random gradients; compare each step."""
    rng = np.random.default_rng(seed)
    parameters = make_parameters(rng)
    expected = [p.values.copy() for p in parameters]
    state = [dict() for _ in parameters]
    optimizer = optimizer_class(parameters, **kwargs)
    for t in range(1, STEPS + 1):
        for p in parameters:
            p.grad = rng.normal(size=p.shape)
        optimizer.step()
        for i, p in enumerate(parameters):
            expected[i] = reference_step(expected[i], p.grad, state[i], t, **kwargs)
            np.testing.assert_allclose(p.values, expected[i], rtol=1e-12, atol=1e-15, err_msg=f"step {t}")


def seed_adamw_step(p, g, state, t, lr, betas, weight_decay):
    m1 = state.get("m1", np.zeros_like(p)) * betas[0] + g * (1 - betas[0])
    m2 = state.get("m2", np.zeros_like(p)) * betas[1] + (g * g) * (1 - betas[1])
    state.update(m1=m1, m2=m2)
    variance = m2 - m1 * m1
    assert np.all(variance >= 0)  # betas equal: the clamp has nothing to do
    p = p - lr * m1 / (variance**0.5 + 1e-8)
    return p - weight_decay * lr * p


def adam_step(p, g, state, t, lr, betas, eps, weight_decay, decoupled=False):
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = state["m"] = betas[0] * state.get("m", 0.0) + (1 - betas[0]) * g
    v = state["v"] = betas[1] * state.get("v", 0.0) + (1 - betas[1]) * g**2
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw_step(p, g, state, t, **kwargs):
    return adam_step(p, g, state, t, decoupled=True, **kwargs)


def sgd_step(p, g, state, t, lr, momentum, weight_decay):
    g = g + weight_decay * p
    if momentum:
        g = state["buffer"] = g if t == 1 else momentum * state["buffer"] + g
    return p - lr * g


def test_seed_adamw_matches_the_seeds_formula():
    run(SeedAdamW, dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=1e-2), seed_adamw_step)


def test_adam_matches_textbook_formula():
    run(Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1), adam_step)


def test_adamw_matches_textbook_formula():
    run(AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05), adamw_step)


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_sgd_matches_textbook_formula(momentum, weight_decay):
    run(SGD, dict(lr=0.1, momentum=momentum, weight_decay=weight_decay), sgd_step)


def test_defaults_are_torchs_and_the_seeds():
    p = [Parameter(np.zeros(2))]
    adamw, adam, sgd, seed = AdamW(p), Adam(p), SGD(p), SeedAdamW(p)
    assert (adamw.lr, adamw.betas, adamw.eps, adamw.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    assert (adam.betas, adam.eps, adam.weight_decay) == ((0.9, 0.999), 1e-8, 0.0)
    assert (sgd.momentum, sgd.weight_decay) == (0.0, 0.0)
    assert (seed.lr, seed.betas, seed.weight_decay) == (1e-3, (0.9, 0.999), 0.01)  # the seed's AdamW defaults
    assert OPTIMIZERS == {"seed_adamw": SeedAdamW, "adamw": AdamW, "adam": Adam, "sgd": SGD}


def test_seed_adamw_clamps_negative_variance_when_betas_differ():
    p = Parameter(np.array([1.0, -2.0]))
    p.grad = np.array([0.5, 3.0])
    SeedAdamW([p], lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0).step()
    # var = 0.001 g^2 - 0.01 g^2 < 0 is clamped to 0: the step is lr * m1 / eps, finite and real.
    expected = np.array([1.0, -2.0]) - 1e-3 * (0.1 * p.grad) / 1e-8
    np.testing.assert_allclose(p.values, expected, rtol=1e-15)
    assert p.values.dtype == np.float64 and np.all(np.isfinite(p.values))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_buffer_and_separate_parameters_give_identical_bits(name):
    model = MLP(2, [4, 3], 1, rng=0)
    separate = [Parameter(p.values.copy()) for p in model.parameters()]
    optimizers = [OPTIMIZERS[name](params, lr=1e-2) for params in (model.parameters(), separate)]
    assert optimizers[0].buffer is model.buffer
    assert all(p.buffer is optimizers[1].buffer for p in separate)  # loose parameters gathered into one
    assert OPTIMIZERS[name](separate).buffer is optimizers[1].buffer
    rng = np.random.default_rng(1)
    for _ in range(10):
        for a, b in zip(model.parameters(), separate, strict=True):
            a.grad = b.grad = rng.normal(size=a.shape)
        for optimizer in optimizers:
            optimizer.step()
    for a, b in zip(model.parameters(), separate, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
    assert np.shares_memory(model.parameters()[0].values, model.buffer.values)


def test_part_of_a_models_parameters_is_refused():
    model = MLP(1, [3], 1, rng=0)
    with pytest.raises(ValueError, match=r"share a buffer with others; pass them all together"):
        SGD(model.parameters()[:2], lr=0.1)


@pytest.mark.parametrize(
    "optimizer_class, kwargs, message",
    [
        (SGD, dict(lr=-1), r"SGD: lr must be a number >= 0, got -1"),
        (AdamW, dict(lr=float("nan")), r"AdamW: lr must be a number >= 0, got nan"),
        (Adam, dict(lr="fast"), r"Adam: lr must be a number >= 0, got 'fast'"),
        (AdamW, dict(betas=(0.9, 0.9, 0.9)), r"AdamW: betas must be a pair \(b1, b2\)"),
        (SeedAdamW, dict(betas=0.9), r"SeedAdamW: betas must be a pair"),
        (Adam, dict(betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
        (SeedAdamW, dict(betas=(0.9, -0.1)), r"SeedAdamW: betas\[1\] must be in \[0, 1\), got -0.1"),
        (Adam, dict(eps=0.0), r"Adam: eps must be a number > 0, got 0.0"),
        (SeedAdamW, dict(eps=-1e-8), r"SeedAdamW: eps must be a number > 0"),
        (AdamW, dict(weight_decay=-0.1), r"AdamW: weight_decay must be a number >= 0, got -0.1"),
        (SGD, dict(weight_decay=-1), r"SGD: weight_decay must be a number >= 0"),
        (SGD, dict(momentum=1.0), r"SGD: momentum must be in \[0, 1\), got 1.0"),
        (SGD, dict(momentum=-0.5), r"SGD: momentum must be in \[0, 1\), got -0.5"),
        (SGD, dict(lr=[0.1, 0.2]), r"SGD: lr must be .*one value per run needs a model with a runs axis"),
    ],
)
def test_bad_arguments_are_refused_at_construction(optimizer_class, kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizer_class([Parameter(np.zeros(2))], **kwargs)


def test_float32_parameters_stay_float32():
    model = MLP(1, [3], 1, rng=0, dtype=np.float32)
    for p in model.parameters():
        p.grad = np.ones(p.shape, dtype=np.float32)
    for optimizer_class in OPTIMIZERS.values():
        optimizer_class(model.parameters(), lr=1e-3).step()
    assert all(p.values.dtype == np.float32 for p in model.parameters())
