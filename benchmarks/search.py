"""Does a search find as good a setting as the grid, for less compute? TPE with pruning, TPE, random
search and the grid, over the same space of the seed's experiment.

    python benchmarks/search.py [--steps 1500] [--trials 12] [--repeats 3] [--seeds 2]

The space is a grid of lr x weight decay x width (4 x 3 x 3 = 36 settings). Every trial (and every
grid setting) trains `--seeds` seeds (0, 1, ...) and is valued at their mean eval_mse, as
`hydra.sweeper.seeds_per_trial` does; the searches get `--trials` trials each (12: a third of the
grid's), 3 repeats with sampler seeds 0, 1, 2 (the grid is
deterministic: it runs once). Each method's chosen setting is then re-trained on 4 seeds no method saw
(100..103) and scored by their mean eval_mse. Compute is training steps actually run (a pruned seed
counts the steps it ran).

It runs the sweeper's own parts in one process: the space from Hydra's override grammar
(`harness.search.space`), the samplers and the median pruner built from the sweeper's config
dataclasses, the job's `TrialReporter` (smoothed loss every 100 steps, the first seed judged), and
`train()`. MLflow and process start-up are left out: they cost the same per trial for every method.
Steps per run default to 1500 (the seed's experiment uses 3000) to keep it to a few minutes on 2 cores.

Target: TPE with pruning picks a setting within 1.25x of the grid's best held-out score with <= 1/3 of
the grid's training steps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import optuna  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from harness.checks.schema import CONF_DIR, task_config  # noqa: E402
from harness.search.samplers import OrderedGridSampler  # noqa: E402
from harness.search.space import parse_space  # noqa: E402
from harness.search.study import trial_id  # noqa: E402
from harness.search.trial import TrialReporter  # noqa: E402
from harness.training.loop import train  # noqa: E402
from hydra_plugins.harness_optuna_sweeper.config import (  # noqa: E402
    MedianPrunerConf,
    RandomSamplerConf,
    TPESamplerConf,
)

SPACE = ["lr=choice(3e-4,1e-3,3e-3,1e-2)", "weight_decay=choice(0.0,1e-3,1e-2)", "width=choice(16,32,64)"]
HELD_OUT_SEEDS = (100, 101, 102, 103)
REPORT_EVERY = 100


class Budget:
    """Training steps run, over a whole method."""

    def __init__(self):
        self.steps = 0


def build(conf, **changes):
    return instantiate(OmegaConf.structured(conf), **changes)


def task_for(overrides: list[str], seed: int, steps: int) -> dict:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, f"seed={seed}", f"steps={steps}"])
    return task_config(cfg)


def objective(space, steps: int, budget: Budget, prune: bool, seeds: tuple[int, ...], storage):
    def value(trial: optuna.Trial) -> float:
        stored_id = trial_id(storage, trial.study.study_name, trial.number)
        params = {d.key: trial.suggest_categorical(d.key, d.distribution.choices) for d in space.dimensions}
        scores = []
        for index, seed in enumerate(seeds):
            reporter = TrialReporter(trial.study, stored_id, REPORT_EVERY, steps, reports=index == 0)
            hook = (lambda step, losses, r=reporter: r(step + 1, losses)) if prune else None
            result = train(task_for(space.overrides(params), seed, steps), hook)
            budget.steps += len(result.losses)  # a pruned run: the steps it ran before the pruner stopped it
            if result.stopped:
                raise optuna.TrialPruned(result.stop_reason)
            if result.diverged:
                return float("nan")  # Optuna: FAIL
            scores.append(result.eval_mse)
        return statistics.fmean(scores)

    return value


def held_out_score(space, params: dict, steps: int) -> float:
    scores = []
    for seed in HELD_OUT_SEEDS:
        result = train(task_for(space.overrides(params), seed, steps))
        scores.append(float("inf") if result.diverged else result.eval_mse)
    return statistics.fmean(scores)


def run_method(name: str, space, steps: int, trials: int, repeat: int, seeds: tuple[int, ...]) -> dict:
    budget = Budget()
    if name == "grid":
        sampler = OrderedGridSampler({d.key: d.grid_values() for d in space.dimensions})
        trials = len(space.grid())
    elif name == "random":
        sampler = build(RandomSamplerConf, seed=repeat)
    else:
        sampler = build(TPESamplerConf, seed=repeat, n_startup_trials=4)
    prune = name == "tpe+pruning"
    pruner = build(MedianPrunerConf, n_startup_trials=3, n_warmup_steps=300) if prune else None
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner or optuna.pruners.NopPruner())
    started = time.perf_counter()
    study.optimize(objective(space, steps, budget, prune, seeds, storage), n_trials=trials)
    states = [t.state for t in study.trials]
    return {
        "method": name,
        "repeat": repeat,
        "chosen": study.best_params,
        "search_value": study.best_value,
        "held_out": held_out_score(space, study.best_params, steps),
        "steps": budget.steps,
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per trial (and per grid setting): 0..N-1")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_space(SPACE)
    seeds = tuple(range(args.seeds))
    rows = [run_method("grid", space, args.steps, 0, 0, seeds)]
    for repeat in range(args.repeats):
        for name in ("tpe+pruning", "tpe", "random"):
            rows.append(run_method(name, space, args.steps, args.trials, repeat, seeds))
            print(f"  {name} repeat {repeat}: held-out {rows[-1]['held_out']:.4g}, {rows[-1]['steps']} steps",
                  flush=True)  # fmt: skip
    grid = rows[0]
    print(f"\nspace: {' '.join(SPACE)}; {args.steps} steps per run; trials valued on seeds {seeds}, "
          f"chosen settings scored on held-out seeds {HELD_OUT_SEEDS}\n")  # fmt: skip
    print("| method | repeat | chosen setting | search value | held-out eval_mse | x grid best | steps | "
          "steps / grid | pruned |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        chosen = " ".join(f"{key}={value}" for key, value in row["chosen"].items())
        ratio, fraction = row["held_out"] / grid["held_out"], row["steps"] / grid["steps"]
        print(
            f"| {row['method']} | {row['repeat']} | {chosen} | {row['search_value']:.4g} | "
            f"{row['held_out']:.4g} | {ratio:.2f} | {row['steps']} | {fraction:.2f} | {row['pruned']} |"
        )
    print("\n| method | median held-out x grid best | worst | median steps / grid |")
    print("|---|---|---|---|")
    for name in ("tpe+pruning", "tpe", "random"):
        mine = [row for row in rows if row["method"] == name]
        ratios = [row["held_out"] / grid["held_out"] for row in mine]
        fractions = [row["steps"] / grid["steps"] for row in mine]
        median_ratio, median_fraction = statistics.median(ratios), statistics.median(fractions)
        print(f"| {name} | {median_ratio:.2f} | {max(ratios):.2f} | {median_fraction:.2f} |")
    pruned = [row for row in rows if row["method"] == "tpe+pruning"]
    ok = all(
        row["held_out"] <= 1.25 * grid["held_out"] and row["steps"] <= grid["steps"] / 3 for row in pruned
    )
    print(f"\ntarget (every TPE+pruning repeat within 1.25x of the grid's best with <= 1/3 of its steps): "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
