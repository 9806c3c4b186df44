"""Each job's config as Hydra's `load_sweep_config` composes it, composed in full once per shape.

Hydra composes a job in two stages: the defaults list (the config files and group choices, which only
group overrides such as `optimizer=adam` change), then the command line's value overrides (`lr=1e-3`)
applied one by one to the merged config (`ConfigLoaderImpl._apply_overrides_to_config`), then the
`hydra.overrides.task` list and `hydra.job.override_dirname` from the overrides. Jobs whose overrides
differ only in such values share the first stage: the first of them is composed by Hydra itself and
kept as the template; each next one is a copy with its own values applied by that same Hydra function
and its two `hydra.*` entries written as Hydra writes them (~5 ms instead of ~140 ms a job).

What is not a plain value (a group choice, `+key`, `~key`, `++key`, a package, a dict merged into a
node, any `hydra.*` key) is part of the template's identity, so such jobs get a template of their own.
`tests/harness/test_vectorized_launcher.py` compares the result with Hydra's own, file by file.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from omegaconf import DictConfig, OmegaConf, open_dict


class JobComposer:
    """`compose(overrides)` == `config_loader.load_sweep_config(master_config, overrides)`."""

    def __init__(self, config_loader, master_config: DictConfig):
        self.config_loader = config_loader
        self.master_config = master_config
        self.parser = OverridesParser.create(config_loader=config_loader)
        self.parsed: dict[str, Override] = {}  # each distinct override parsed once
        self.templates: dict[tuple, DictConfig] = {}

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        parsed = [self._parse(override) for override in overrides]
        shape = tuple(
            override.key_or_group if self._is_plain_value(override) else ("as is", override.input_line)
            for override in parsed
        )
        template = self.templates.get(shape)
        if template is None:
            composed = self.config_loader.load_sweep_config(self.master_config, list(overrides))
            self.templates[shape] = copy.deepcopy(composed)
            return composed
        config = copy.deepcopy(template)
        plain = [override for override in parsed if self._is_plain_value(override)]
        ConfigLoaderImpl._apply_overrides_to_config(plain, config)
        task = [override for override in parsed if not override.is_hydra_override()]
        job = config.hydra.job
        with open_dict(config.hydra):
            config.hydra.overrides.task = [override.input_line for override in task]
            job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=self.master_config, to_config=config)
        return config

    def _parse(self, override: str) -> Override:
        if override not in self.parsed:
            (self.parsed[override],) = self.parser.parse_overrides([override])
        return self.parsed[override]

    def _is_plain_value(self, override: Override) -> bool:
        """`key=value` setting a value that replaces the old one whatever it was: no group choice."""
        return (
            override.type == OverrideType.CHANGE
            and override.package is None
            and override.value_type == ValueType.ELEMENT
            and not override.is_hydra_override()
            and not isinstance(override.value(), dict)
            and not self.config_loader.repository.group_exists(override.key_or_group)
        )
