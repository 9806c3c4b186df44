"""How many runs one batch should hold: a group of configs trained one after another, then in batches
of k runs on the engine's runs axis, per width.

    python benchmarks/batch_slices.py                  # widths 16 32 64 128, 32 configs, 300 steps
    python benchmarks/batch_slices.py --widths 128 --steps 1000

Prints CPU seconds one after another (`train`), then for each k the CPU time of batches of k
(`train_runs`) as a ratio to it, and `runs_per_slice` (what `train_many` uses: SLICE_BYTES of
parameters a batch). Past the L2 cache, a bigger batch is slower per run: the optimizer's passes over
the flat buffer wait on memory.
"""

from __future__ import annotations

import argparse
import time

from hydra import compose, initialize_config_dir

from harness.checks.schema import CONF_DIR, task_config
from harness.training.batches import runs_per_slice
from harness.training.loop import train, train_runs

LRS = ("3e-4", "1e-3", "3e-3", "1e-2")
WEIGHT_DECAYS = ("0", "1e-3")


def tasks_of(width: int, steps: int, count: int) -> list[dict]:
    overrides = [
        [f"width={width}", f"seed={seed}", f"lr={lr}", f"weight_decay={wd}", f"steps={steps}"]
        for seed in range(count)
        for lr in LRS
        for wd in WEIGHT_DECAYS
    ][:count]
    return [task_config(compose("config", chosen)) for chosen in overrides]


def cpu_seconds(action) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--configs", type=int, default=32)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    args = parser.parse_args()
    print(f"{args.configs} configs a width, {args.steps} steps; CPU time of batches of k / one after another")
    sizes = " ".join(f"{f'k={k}':>6}" for k in args.sizes)
    print(f"{'width':>5} {'alone s':>8} {sizes}  runs_per_slice")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for width in args.widths:
            tasks = tasks_of(width, args.steps, args.configs)
            alone = cpu_seconds(lambda: [train(task) for task in tasks])  # noqa: B023 (called at once)
            ratios = []
            for size in args.sizes:
                batches = [tasks[start : start + size] for start in range(0, len(tasks), size)]
                seconds = cpu_seconds(lambda: [train_runs(b, [None] * len(b)) for b in batches])  # noqa: B023 (called at once)
                ratios.append(seconds / alone)
            shown = " ".join(f"{ratio:6.2f}" for ratio in ratios)
            print(f"{width:>5} {alone:8.2f} {shown}  {runs_per_slice(tasks[0])}", flush=True)


if __name__ == "__main__":
    main()
