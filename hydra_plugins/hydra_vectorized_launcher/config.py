"""The launcher's config, in Hydra's ConfigStore as `hydra/launcher=vectorized`."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class VectorizedLauncherConf:
    _target_: str = "hydra_plugins.hydra_vectorized_launcher.vectorized_launcher.VectorizedLauncher"

    # worker processes; the jobs are split between them in order, each worker batching its own share.
    # -1: one per core. 1: everything in the launching process.
    n_jobs: int = -1

    # the most jobs trained in one batch; a larger group is trained in slices of this size
    max_batch: int = 64


ConfigStore.instance().store(
    group="hydra/launcher", name="vectorized", node=VectorizedLauncherConf, provider="vectorized_launcher"
)
