"""`python -m harness.run --help`: Hydra's own help text, with the config groups listed in milliseconds
(`harness.upstream.print_hydra_app_help`: Hydra lists each group from a deep copy of its ConfigStore)."""

from __future__ import annotations

from argparse import Namespace

from harness.checks.schema import CONF_DIR
from harness.upstream import hydra_args_parser, print_hydra_app_help


def print_help_if_asked(argv: list[str]) -> bool:
    """Print what Hydra prints for `--help` if `argv` asks for it with this project's configs (not
    `--config-dir`/`--config-path`: those Hydra serves); whether it did."""
    args = hydra_args_parser().parse_args(argv)
    if not args.help or args.config_dir or args.config_path:
        return False
    print_app_help(args)
    return True


def print_app_help(args: Namespace) -> None:
    """What Hydra prints for `--help` with `args` (its overrides shown in the config)."""
    print_hydra_app_help(args, str(CONF_DIR), args.config_name or "config")
