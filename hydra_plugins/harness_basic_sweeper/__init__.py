"""`hydra/sweeper=prechecked`, the project's default: Hydra's basic sweeper without its second composition
of every job (see `sweeper.py`)."""
