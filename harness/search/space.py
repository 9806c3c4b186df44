"""A search space from Hydra's override grammar, spelled as Hydra's own Optuna sweeper documents it.

    lr=tag(log,interval(1e-4,1e-1))   -> FloatDistribution(1e-4, 1e-1, log=True)
    width=int(interval(16,128))       -> IntDistribution(16, 128)        (an integer interval)
    width=choice(16,32,64)            -> CategoricalDistribution([16, 32, 64])
    width=16,32,64                    -> the same: a comma list is a choice
    steps=range(500,3001,500)         -> IntDistribution(500, 3000, step=500)
    betas=choice([0.9,0.9],[0.9,0.99]) -> categories "[0.9,0.9]", "[0.9,0.99]" (Optuna stores only scalars)

`range` keeps Hydra's meaning (the values the basic sweeper would list: the stop is excluded), where
Hydra's Optuna sweeper maps `range(1,3)` to the integers 1..3. Any other override is fixed: it is
passed to every trial as written.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    """An override the search cannot use, told in one line."""


@dataclass
class Dimension:
    """One searched key: its distribution, and how each category is written back as an override."""

    key: str  # as written, `+` and all: the override a trial gets is `key=value`
    distribution: BaseDistribution
    category_text: dict = field(default_factory=dict)  # category -> override text (choices only)

    def override(self, value) -> str:
        if isinstance(self.distribution, CategoricalDistribution):
            return f"{self.key}={self.category_text[value]}"
        return f"{self.key}={value}"

    def grid_values(self) -> list:
        """Every value of a discrete dimension, in order (a grid needs them)."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        if isinstance(d, IntDistribution) and not d.log:
            return list(range(d.low, d.high + 1, d.step))
        if isinstance(d, FloatDistribution) and d.step is not None:
            count = round((d.high - d.low) / d.step) + 1
            return [d.low + i * d.step for i in range(count)]
        raise SearchSpaceError(
            f"{self.key}: a grid needs discrete values, not {type(d).__name__}: "
            "use choice(...), a comma list, range(...) or int(interval(...))"
        )


@dataclass
class SearchSpace:
    dimensions: list[Dimension]
    fixed: list[str]  # overrides every trial gets as written

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dimensions]

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.key: d.distribution for d in self.dimensions}

    def overrides(self, params: dict) -> list[str]:
        """A trial's overrides: its searched values, then the fixed ones."""
        return [d.override(params[d.key]) for d in self.dimensions] + self.fixed

    def grid(self) -> list[dict]:
        """Every point of a discrete space, in the order Hydra's basic sweeper would run them."""
        values = [d.grid_values() for d in self.dimensions]
        return [dict(zip(self.keys, point, strict=True)) for point in itertools.product(*values)]


def distribution(override: Override) -> tuple[BaseDistribution, dict]:
    """The Optuna distribution of one sweep override, and the override text of each category."""
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return _categorical(override)
    if override.is_range_sweep():
        numbers = list(override.sweep_iterator())
        if not numbers:
            raise SearchSpaceError(f"{override.input_line}: the range is empty")
        step = value.step
        if all(isinstance(x, int) for x in (value.start, value.stop, step)):
            return IntDistribution(numbers[0], numbers[-1], step=step), {}
        return FloatDistribution(float(numbers[0]), float(numbers[-1]), step=float(step)), {}
    if override.is_interval_sweep():
        low, high, log = value.start, value.end, "log" in value.tags
        unknown = set(value.tags) - {"log"}
        if unknown:
            raise SearchSpaceError(
                f"{override.input_line}: unknown tag {sorted(unknown)}: only 'log' is known"
            )
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log), {}
        return FloatDistribution(float(low), float(high), log=log), {}
    raise SearchSpaceError(f"{override.input_line}: not a search dimension")  # pragma: no cover


def _categorical(override: Override) -> tuple[CategoricalDistribution, dict]:
    encoded = list(override.sweep_iterator(transformer=Transformer.encode))
    texts = list(override.sweep_string_iterator())
    if not encoded:
        raise SearchSpaceError(f"{override.input_line}: no values to choose from")
    text_of = dict(zip(encoded, texts, strict=True))
    if len(text_of) != len(encoded):
        raise SearchSpaceError(f"{override.input_line}: a value is listed twice")
    return CategoricalDistribution(encoded), text_of


def parse_space(arguments: Iterable[str]) -> SearchSpace:
    """The search space of a command line (after `hydra.sweeper.params`); a later override of a key wins.

    Raises SearchSpaceError (one line) for an override Optuna cannot search (an empty choice, a
    reversed interval, a log interval reaching 0, an unknown tag)."""
    arguments = list(arguments)
    try:
        parsed = OverridesParser.create().parse_overrides(arguments)
    except Exception as error:  # Hydra's grammar errors are several lines: keep the first
        raise SearchSpaceError(str(error).strip().splitlines()[0]) from None
    dimensions: dict[str, Dimension] = {}
    fixed: dict[str, str] = {}
    for override in parsed:
        key = override.get_key_element()
        dimensions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            try:
                found, texts = distribution(override)
            except SearchSpaceError:
                raise
            except ValueError as error:  # Optuna refuses e.g. low > high, or log with low <= 0
                raise SearchSpaceError(f"{override.input_line}: {error}") from None
            dimensions[key] = Dimension(key, found, texts)
        else:
            fixed[key] = override.input_line
    return SearchSpace(list(dimensions.values()), list(fixed.values()))


def representative_overrides(dimension: Dimension) -> list[str]:
    """The values a config check should try for a dimension: every category, or both ends."""
    d = dimension.distribution
    if isinstance(d, CategoricalDistribution):
        return [dimension.override(choice) for choice in d.choices]
    return [dimension.override(d.low), dimension.override(d.high)]
