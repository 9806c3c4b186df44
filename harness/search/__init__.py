"""What an Optuna search is made of, apart from Hydra's plugin machinery: the search space read from
Hydra's override grammar (`space`), the study's storage and identity (`study`), the grid sampler
(`samplers`). The sweeper class itself is `hydra_plugins.harness_optuna_sweeper.sweeper.OptunaSweeper`
(Hydra instantiates sweepers only from the `hydra_plugins` namespace)."""
