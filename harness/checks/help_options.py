"""What `python -m harness.run --help` lists, read from where the options live, so that a new launcher,
sweeper or named sweep shows there without anyone editing the help: `${harness_options:hydra/launcher}`
in `hydra.help.footer` (conf/config.yaml) is `basic|joblib|...|vectorized`.
"""

from __future__ import annotations

from pathlib import Path

SEPARATOR = "|"


def named_sweeps(sweeps_dir: Path) -> list[str]:
    """The named sweeps and searches: the files of `sweeps/`."""
    return sorted(path.stem for path in sweeps_dir.glob("*.yaml"))


def group_options(group: str, sweeps_dir: Path) -> str:
    """The options of a config group, as Hydra finds them (Hydra's own groups, the project's
    plugins, `conf/`), joined by `|`; the group `sweeps` from its folder."""
    if group == "sweeps":
        return SEPARATOR.join(named_sweeps(sweeps_dir))
    from hydra.core.global_hydra import GlobalHydra

    return SEPARATOR.join(sorted(GlobalHydra.instance().config_loader().get_group_options(group)))
