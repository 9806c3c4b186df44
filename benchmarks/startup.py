"""Wall time of the everyday commands, each in fresh processes, against issue 22's targets.

    python benchmarks/startup.py                          # this repo, 3 runs a command
    python benchmarks/startup.py --repo /path/to/main --repo .  --runs 5   # two checkouts, one table
    python benchmarks/startup.py --only help refused --no-phases

Each command runs `--runs` times in a new temporary directory (its store, ./mlflow.db, and Hydra's
outputs there); the table shows the median, its ratio to the target, and its ratio to the baseline
`python -c "import numpy"` measured in the same run (a loaded machine slows both). "existing store"
copies a store made once beforehand; "fresh store" starts without one. Then, unless --no-phases, one
more run of each command in benchmarks/phase_sampler.py says where the time went (imports, store,
compose, training, records, figures, model, report, other), and which heavy modules it imported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLER = HERE / "phase_sampler.py"
PHASES = ("imports", "store", "compose", "training", "records", "figures", "model", "report", "other")
HEAVY = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "matplotlib", "pandas")


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...]
    target: float  # seconds, issue 22
    store: str  # "none": no store needed; "existing": a copy of a prepared one; "fresh": none yet
    exit: int = 0


COMMANDS = [
    Command("help", ("--help",), 1.0, "none"),
    Command("refused", ("lr=-1",), 1.0, "none", exit=2),
    Command("quick start, existing store", ("-m", "lr=1e-3,1e-2"), 5.0, "existing"),
    Command("quick start, fresh store", ("-m", "lr=1e-3,1e-2"), 8.0, "fresh"),
    Command("single steps=500", ("steps=500",), 3.0, "existing"),
]
CPU: list[float] = []  # CPU seconds of each command run, in order
KEYS = {"help": "help", "refused": "refused", "existing": "quick start, existing store"}
KEYS |= {"fresh": "quick start, fresh store", "single": "single steps=500"}


def environment(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HARNESS_"))}
    env["PYTHONPATH"] = str(repo)  # the checkout under test first, before any installed copy
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def prepared_store(python: str, repo: Path, scratch: Path) -> Path:
    """A folder holding a store that has the default experiment and one run: "an existing store"."""
    folder = scratch / f"store-{repo.name}"
    folder.mkdir()
    run(python, repo, ("steps=1", "report=false", "register=false"), folder, expected=0)
    return folder


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(python: str, repo: Path, argv, cwd: Path, expected: int, wrapper=("-m", "harness.run")) -> float:
    """Wall seconds of one command; its CPU seconds (its own and its children's) go to CPU[-1]."""
    cpu, started = cpu_of_children(), time.perf_counter()
    done = subprocess.run(
        [python, *wrapper, *argv], cwd=cwd, env=environment(repo), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    CPU.append(cpu_of_children() - cpu)
    if done.returncode != expected:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(argv)} in {repo}: exit {done.returncode}, expected {expected}: {tail}")
    return seconds


def workdir(command: Command, store: Path | None, scratch: Path) -> Path:
    folder = Path(tempfile.mkdtemp(dir=scratch))
    if command.store == "existing":
        for item in store.iterdir():
            copy = shutil.copytree if item.is_dir() else shutil.copy2
            copy(item, folder / item.name)
    return folder


def heavy_modules(python: str, repo: Path, command: Command, cwd: Path) -> list[str]:
    """Which of HEAVY the command imported (from `python -X importtime`)."""
    done = subprocess.run(
        [python, "-X", "importtime", "-m", "harness.run", *command.args],
        cwd=cwd, env=environment(repo), capture_output=True, text=True,
    )  # fmt: skip
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in imported]


def phases(python: str, repo: Path, command: Command, cwd: Path) -> dict[str, float]:
    out = cwd / "phases.json"
    total = run(python, repo, (str(out), "--", *command.args), cwd, command.exit, wrapper=(str(SAMPLER),))
    seconds = json.loads(out.read_text())["seconds"]
    seconds["startup"] = total - seconds.pop("sampled")  # the interpreter, before the sampler started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, action="append", help="a checkout (default: this one)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes a command (median)")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--only", nargs="+", choices=sorted(KEYS), help="these commands only")
    parser.add_argument("--no-phases", action="store_true", help="skip the breakdown")
    args = parser.parse_args()
    repos = [repo.resolve() for repo in (args.repo or [HERE.parent])]
    commands = [c for c in COMMANDS if not args.only or c.name in {KEYS[k] for k in args.only}]
    print(f"load average before: {os.getloadavg()[0]:.1f}; {args.runs} runs a command, medians")
    with tempfile.TemporaryDirectory(prefix="startup-") as scratch_name:
        scratch = Path(scratch_name)
        stores = {
            repo: prepared_store(args.python, repo, scratch)
            for repo in repos
            if any(c.store == "existing" for c in commands)
        }
        numpy = [run(args.python, repos[0], (), scratch, 0, ("-c", "import numpy")) for _ in range(args.runs)]
        baseline = (statistics.median(numpy), statistics.median(CPU[-args.runs :]))
        times: dict[tuple[str, Path], list[tuple[float, float]]] = {}
        for command in commands:
            for _ in range(args.runs):  # interleaved, so that a burst of load hits every checkout alike
                for repo in repos:
                    cwd = workdir(command, stores.get(repo), scratch)
                    wall = run(args.python, repo, command.args, cwd, command.exit)
                    times.setdefault((command.name, repo), []).append((wall, CPU[-1]))
        medians = {
            key: tuple(statistics.median(column) for column in zip(*values, strict=True))
            for key, values in times.items()
        }
        print_table(commands, repos, medians, baseline)
        if not args.no_phases:
            for repo in repos:
                print_phases(args.python, repo, commands, stores.get(repo), scratch)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def print_table(commands, repos, medians, baseline) -> None:
    """Wall and CPU seconds (medians) of each command in each checkout; `/target` is the wall time over
    the target, `/numpy` the wall time over the baseline's (on a loaded machine, CPU says more)."""
    print(f"\nbaseline `python -c 'import numpy'`: wall {baseline[0]:.2f} s, CPU {baseline[1]:.2f} s")
    heads = "".join(f" | {repo.name[:12]:>12} wall  CPU /target /numpy" for repo in repos)
    print(f"{'command':<29} | target{heads}")
    for command in commands:
        cells = ""
        for repo in repos:
            wall, cpu = medians[(command.name, repo)]
            cells += f" | {wall:17.2f} {cpu:4.2f} {wall / command.target:7.2f} {wall / baseline[0]:6.1f}"
        print(f"{command.name:<29} | {command.target:6.1f}{cells}")


def print_phases(python: str, repo: Path, commands, store: Path | None, scratch: Path) -> None:
    print(f"\nwhere the time went, {repo} (one sampled run each, s)")
    names = " ".join(f"{phase:>8}" for phase in ("startup", *PHASES))
    print(f"{'command':<29} {names}    total  heavy imports")
    for command in commands:
        seconds = phases(python, repo, command, workdir(command, store, scratch))
        cells = " ".join(f"{seconds.get(p, 0.0):8.2f}" for p in ("startup", *PHASES))
        heavy = heavy_modules(python, repo, command, workdir(command, store, scratch))
        print(f"{command.name:<29} {cells} {sum(seconds.values()):8.2f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
