"""`hydra/launcher=vectorized`: a Hydra launcher that trains a sweep's compatible jobs as one batch.

A task function marked `@vectorizable` calls `batch_point(key, item, run_batch)` where it would
compute `run_batch([item])[0]` alone; under this launcher the jobs of one process meet there, and
each group of equal `key` is computed by one `run_batch(items)`. Anything else runs one job at a time.
"""

from hydra_plugins.hydra_vectorized_launcher.rendezvous import batch_point, on_worker_start, vectorizable

__all__ = ["batch_point", "on_worker_start", "vectorizable"]
