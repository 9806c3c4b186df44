"""The `_target_` by which a config names the search's sweeper: readable without importing Optuna or
Hydra's plugin (whose config takes it from here), so that the checks and a job can tell a search."""

SWEEPER_TARGET = "hydra_plugins.harness_optuna_sweeper.sweeper.OptunaSweeper"
