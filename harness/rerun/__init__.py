"""`python -m harness.run rerun=<run id or sweep id>`: train stored runs again and say whether their loss
curves came back bit for bit.

The command line is expanded before Hydra starts (`command_line`): a run id is one job, a sweep id one
job per job run of that sweep, all as the one swept key `rerun` (`-m rerun=<id>,<id>,...`), so that any
launcher runs them, the vectorized one batching those that share a shape. Each job trains its stored
run's resolved config (`job`) and compares its curve with the stored `curve.npz` (`curves`); the command
ends with one line, or `k/N identical` for a sweep (`summary`).
"""
