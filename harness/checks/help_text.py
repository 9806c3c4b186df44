"""`python -m harness.run --help`: Hydra's own help text, with the config groups listed in milliseconds.

Hydra's config loader lists a group's options from a fresh copy of its repository, and each copy
deep-copies the whole ConfigStore (~30 ms here); `--help` lists ~80 times (every group of Hydra's and
the project's, twice), ~3 s. Listing without a primary config or overrides reads the repository as
it is, so one loader that lists from its own repository gives the same text.
"""

from __future__ import annotations

from argparse import Namespace

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path, get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType

from harness.checks.schema import CONF_DIR


class ListingConfigLoader(ConfigLoaderImpl):
    """Hydra's config loader, listing a group's options from its own repository when no primary config
    or overrides could change the search path (a listing does not change the repository)."""

    def get_group_options(
        self,
        group_name: str,
        results_filter: ObjectType | None = ObjectType.CONFIG,
        config_name: str | None = None,
        overrides: list[str] | None = None,
    ) -> list[str]:
        if config_name is None and not overrides:
            return self.repository.get_group_options(group_name, results_filter)
        return super().get_group_options(group_name, results_filter, config_name, overrides)


def print_help_if_asked(argv: list[str]) -> bool:
    """Print what Hydra prints for `--help` if `argv` asks for it with this project's configs (not
    `--config-dir`/`--config-path`: those Hydra serves); whether it did."""
    args = get_args_parser().parse_args(argv)
    if not args.help or args.config_dir or args.config_path:
        return False
    print_app_help(args)
    return True


def print_app_help(args: Namespace, task_name: str = "run") -> None:
    """What Hydra prints for `--help` with `args` (its overrides shown in the config)."""
    loader = ListingConfigLoader(config_search_path=create_config_search_path(str(CONF_DIR)))
    hydra = Hydra(task_name=task_name, config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    try:
        hydra.app_help(config_name=args.config_name or "config", args_parser=get_args_parser(), args=args)
    finally:
        GlobalHydra.instance().clear()
