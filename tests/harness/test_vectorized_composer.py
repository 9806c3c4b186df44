"""The vectorized launcher composes a job's config from a template of its shape: the result must be the
config Hydra's `load_sweep_config` composes for that job, byte for byte as Hydra writes it."""

from __future__ import annotations

import copy

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

from harness.checks.schema import CONF_DIR
from hydra_plugins.hydra_vectorized_launcher.composer import JobComposer

# Jobs of a few shapes: plain values (one template for all), group choices (a template each), a list
# value, `+`/`++`/`~` keys, a hydra key, and an interpolation that must follow its target.
PLAIN = [[f"lr={lr}", f"width={width}", "seed=1"] for lr in ("1e-3", "${weight_decay}") for width in (16, 32)]
JOBS = [
    *PLAIN,
    ["lr=3e-3", "width=16", "betas=[0.9,0.99]"],
    ["lr=3e-3", "width=64", "betas=[0.5,0.5]"],
    ["optimizer=sgd", "lr=1e-2"],
    ["optimizer=sgd", "lr=1e-3"],
    ["optimizer=adamw", "lr=1e-3"],
    ["+extra=1", "lr=1e-3"],
    ["++extra=2", "lr=1e-2"],
    ["~seed"],
    ["seed=4", "hydra.job.name=other"],
]


@pytest.fixture
def master():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        yield loader, loader.load_configuration("config", ["hydra.job.chdir=false"], RunMode.MULTIRUN)


def as_hydra_writes(config) -> tuple[str, str, str]:
    """`.hydra/config.yaml`, `overrides.yaml` and `hydra.yaml` as `hydra.core.utils.run_job` writes them."""
    task = OmegaConf.to_container(config, resolve=False)
    hydra = task.pop("hydra")
    return (
        OmegaConf.to_yaml(OmegaConf.create(task)),
        OmegaConf.to_yaml(config.hydra.overrides.task),
        OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra})),
    )


def resolved_task(config) -> str:
    """The job's own config with every interpolation resolved (`lr=${weight_decay}` must follow it)."""
    task = copy.deepcopy(config)
    with open_dict(task):
        del task["hydra"]
    return OmegaConf.to_yaml(task, resolve=True)


def test_each_job_config_equals_hydras_own_composition(master):
    loader, config = master
    composer = JobComposer(loader, config)
    for overrides in JOBS:
        mine, hydras = composer.compose(overrides), loader.load_sweep_config(config, overrides)
        assert as_hydra_writes(mine) == as_hydra_writes(hydras), overrides
        assert resolved_task(mine) == resolved_task(hydras), overrides
    # one full composition per shape, not one per job
    assert len(composer.templates) == 8  # PLAIN, betas, sgd, adamw, +extra, ++extra, ~seed, hydra key


def test_a_bad_value_fails_as_hydra_fails(master):
    loader, config = master
    composer = JobComposer(loader, config)
    composer.compose(["lr=1e-3"])
    with pytest.raises(Exception, match="lr") as mine:
        composer.compose(["lr=fast"])
    with pytest.raises(Exception, match="lr") as hydras:
        loader.load_sweep_config(config, ["lr=fast"])
    assert type(mine.value) is type(hydras.value)
