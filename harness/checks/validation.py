"""Values Hydra's types cannot check (lr > 0, 0 <= beta < 1, ...), and one-line messages for every
refusal: `error: lr=-1 is not allowed: lr must be a number > 0`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationKeyError,
    OmegaConfBaseException,
)

from engine.nn import INITS
from harness.checks.schema import CONF_DIR, flatten
from harness.tracking.redact import has_credentials, scrub_text
from harness.training.config import Config
from harness.training.targets import TARGETS

SEED_MAX = 2**63 - 1


class ConfigError(ValueError):
    """A refused config: its message is the one line the user sees."""


class NothingToDo(ConfigError):
    """A command line that is fine but has nothing left to run (a search whose study is complete)."""


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v: Any) -> bool:
    return _finite(v) and v > 0


def _non_negative(v: Any) -> bool:
    return _finite(v) and v >= 0


def _fraction(v: Any) -> bool:
    return _finite(v) and 0 <= v < 1


@dataclass(frozen=True)
class Rule:
    key: str
    allowed: str
    check: Callable[[Any], bool]


def _choice(key: str, names) -> Rule:
    return Rule(key, "one of " + ", ".join(sorted(names)), lambda v: v in names)


RULES = {
    rule.key: rule
    for rule in (
        Rule("lr", "a number > 0", _positive),
        Rule(
            "betas",
            "two numbers in [0, 1), e.g. [0.9,0.999]",
            lambda v: isinstance(v, list) and len(v) == 2 and all(map(_fraction, v)),
        ),
        Rule("weight_decay", "a number >= 0", _non_negative),
        Rule("width", "an integer >= 1", lambda v: v >= 1),
        Rule("depth", "an integer >= 1 (hidden layers)", lambda v: v >= 1),
        Rule("negative_slope", "a number >= 0", _non_negative),
        Rule("steps", "an integer >= 1", lambda v: v >= 1),
        Rule("batch_size", "an integer >= 1", lambda v: v >= 1),
        # NumPy's generators take any seed, but MLflow stores a param, a metric or a tag value as int64
        Rule("seed", f"an integer in [0, 2^63) (at most {SEED_MAX})", lambda v: 0 <= v <= SEED_MAX),
        Rule(
            "divergence_factor",
            "a number > 1 (inf: no bound)",
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 1,
        ),
        Rule("optimizer.eps", "a number > 0", _positive),
        Rule("optimizer.momentum", "a number in [0, 1)", _fraction),
        _choice("init.name", INITS),
        _choice("target.name", TARGETS),
        Rule(
            "experiment",
            "a non-empty name with no password or token in it (it is stored in clear)",
            lambda v: bool(str(v).strip()) and not has_credentials(str(v)),
        ),
        Rule("resume", "true or false", lambda v: isinstance(v, bool)),
        Rule("report", "true or false", lambda v: isinstance(v, bool)),
        Rule("store_timeout", "a number of seconds > 0", _positive),
        Rule("store_patience", "a number of seconds >= 0", _non_negative),
        Rule("log_every_n_steps", "an integer >= 1", lambda v: v >= 1),
        Rule("register", "true or false", lambda v: isinstance(v, bool)),
        Rule(
            "model_name",
            "a non-empty name without '/' or ':' (it goes into models:/<name>/<version>)",
            lambda v: bool(str(v).strip()) and not set(str(v)) & {"/", ":"},
        ),
    )
}

# The optimizer option's own keys vary with the option (Hydra refuses keys an option does not have).
KNOWN_KEYS = sorted(set(flatten(OmegaConf.to_container(OmegaConf.structured(Config)))) - {"optimizer"})


def refusal(key: str, shown_value: str, reason: str | None = None) -> str:
    rule = RULES.get(key)
    why = reason or (f"{key} must be {rule.allowed}" if rule else f"{key} is not allowed")
    return f"{key}={scrub_text(str(shown_value))} is not allowed: {why}"


def _optimizer_settings() -> str:
    """`optimizer.eps (adam, adamw, seed_adamw), optimizer.momentum (sgd)`: each option's own keys."""
    options: dict[str, list[str]] = {}
    for path in sorted((CONF_DIR / "optimizer").glob("*.yaml")):
        for key in OmegaConf.load(path):
            if not str(key).startswith("_") and key not in KNOWN_KEYS:
                options.setdefault(f"optimizer.{key}", []).append(path.stem)
    return ", ".join(f"{key} ({', '.join(names)})" for key, names in options.items())


def unknown_key() -> str:
    return f"no such key; the keys are {', '.join(KNOWN_KEYS)}, {_optimizer_settings()}"


def typed_value(key: str, overrides: list[str], fallback: Any) -> str:
    """The value as the user typed it (`1e-3`), else the resolved one."""
    for override in reversed(overrides):
        typed_key, sep, typed = override.lstrip("+~").partition("=")
        if sep and typed_key == key:
            return typed
    return str(fallback)


def validate(task: dict[str, Any], overrides: list[str] = ()) -> None:
    """Raise ConfigError naming the first key whose value is not allowed."""
    flat = flatten(task)
    optimizer_keys = {k for k in flat if k.startswith("optimizer.")}
    if unknown := sorted(flat.keys() - set(KNOWN_KEYS) - optimizer_keys):
        key = unknown[0]
        raise ConfigError(refusal(key, typed_value(key, list(overrides), flat[key]), unknown_key()))
    if missing := sorted(set(KNOWN_KEYS) - flat.keys()):
        raise ConfigError(f"{missing[0]} is required: it cannot be removed")
    for key, rule in RULES.items():
        if key in flat and not rule.check(flat[key]):
            raise ConfigError(refusal(key, typed_value(key, list(overrides), flat[key])))
    for key, value in task["optimizer"].items():
        if key in task and value != task[key]:  # `optimizer.lr` is `${lr}`: one value, set one way
            shown = typed_value(f"optimizer.{key}", list(overrides), value)
            raise ConfigError(refusal(f"optimizer.{key}", shown, f"optimizer.{key} follows {key}: set {key}"))


def explain_hydra_error(error: Exception, overrides: list[str]) -> str:
    """One line for an error Hydra or OmegaConf raised while composing a config from `overrides`."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and "/" in error.missing_cfg_file:
        group, option = _group_choice(error.missing_cfg_file, overrides)
        options = ", ".join(sorted(error.options or ()))
        return refusal(group, option, f"no {group} named '{option}'; {group} must be one of {options}")
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    if isinstance(cause, InterpolationKeyError) and (removed := re.search(r"key '([^']+)'", str(cause))):
        return f"{removed[1]} is required: it cannot be removed"  # `~lr`, which `optimizer.lr` follows
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and full_key:
        return refusal(full_key, typed_value(full_key, overrides, "?"), unknown_key())
    if isinstance(cause, OmegaConfBaseException) and full_key:
        shown = typed_value(full_key, overrides, getattr(cause, "value", "?"))
        return refusal(
            full_key, shown, None if full_key in RULES else _type_reason(full_key, str(cause), shown)
        )
    if isinstance(error, OverrideParseException):
        line = first_line(str(error))
        if line.startswith("LexerNoViableAltException: "):  # a character Hydra's grammar does not take
            override = line.partition(": ")[2]
            key, _, value = override.partition("=")
            return f"could not read {override}: quote a value with such characters, e.g. '{key}=\"{value}\"'"
        return f"could not read the command line: {line}"
    return first_line(str(error))


def _group_choice(missing_cfg_file: str, overrides: list[str]) -> tuple[str, str]:
    """(`target`, `../../etc/passwd`) for the config file `target/../../etc/passwd` Hydra did not find:
    the group is the override's key, whatever the value holds (a `/` splits nothing)."""
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if sep and f"{key.replace('.', '/')}/{value}" == missing_cfg_file:
            return key, value
    group, _, option = missing_cfg_file.rpartition("/")
    return group, option


# OmegaConf's "Value 'abc' of type 'str' could not be converted to Integer": what the key must be
_TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "bool": "true or false"}


def _type_reason(key: str, message: str, shown: str) -> str:
    wanted = next((words for word, words in _TYPE_WORDS.items() if word in first_line(message)), None)
    if wanted is None:
        return first_line(message)
    try:
        whole = wanted == "an integer" and float(shown).is_integer() and f" (write {int(float(shown))})"
    except ValueError:
        whole = ""
    return f"{key} must be {wanted}{whole or ''}"


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)
