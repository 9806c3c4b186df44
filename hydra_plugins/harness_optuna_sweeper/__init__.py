"""The harness's Optuna 5 sweeper for Hydra: `hydra/sweeper=optuna` (see `config.py`)."""
