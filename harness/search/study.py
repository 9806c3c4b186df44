"""Where a study lives and which study a command means: its storage, its name, its search space.

The study has a store of its own: Optuna's tables and MLflow's cannot share one sqlite file (both keep
an `alembic_version` table, and each breaks the other). By default it is `optuna.db` beside the MLflow
sqlite store. A study remembers the space it was made for (a user attribute), so a command with
another space cannot silently continue it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from harness.search.space import SearchSpace
from harness.tracking import exclusive_lock, scrub_text, sqlite_path

JOURNAL_PREFIX = "journal:"
DEFAULT_FILE = "optuna.db"
SEARCH_ATTR = "harness_search"  # the study's user attribute holding what it searches
SQLITE_TIMEOUT_S = 60  # jobs of a joblib sweep write the same file: wait for its lock, don't fail


class StudyError(ValueError):
    """A study the command cannot use as asked (told in one line)."""


def storage_url(configured: str | None, tracking_uri: str) -> str:
    """The configured storage, else `sqlite:///<dir>/optuna.db` beside an MLflow sqlite store (else here)."""
    if configured:
        return configured
    database = sqlite_path(tracking_uri)
    directory = database.parent if database is not None else Path.cwd()
    return f"sqlite:///{directory.resolve() / DEFAULT_FILE}"


def check_storage(url: str, tracking_uri: str) -> None:
    """Refuse a storage Optuna cannot share: the MLflow sqlite file itself."""
    database, mlflow_database = sqlite_path(url), sqlite_path(tracking_uri)
    if (
        database is not None
        and mlflow_database is not None
        and database.resolve() == mlflow_database.resolve()
    ):
        raise StudyError(
            f"hydra.sweeper.storage={scrub_text(url)} is the MLflow store: Optuna and MLflow cannot share "
            "one sqlite file; leave storage unset (optuna.db beside it) or name another file"
        )


def storage_exists(url: str) -> bool:
    """False only when the storage is a file that is not there yet (nothing to read, nothing to check)."""
    if url.startswith(JOURNAL_PREFIX):
        return Path(journal_path(url)).exists()
    database = sqlite_path(url)
    return database is None or database.exists()


def journal_path(url: str) -> str:
    return url[len(JOURNAL_PREFIX) :].removeprefix("//")


def open_storage(url: str) -> BaseStorage:
    """Optuna's storage for `url`; a fresh sqlite file is created under a lock (one process makes it)."""
    if url.startswith(JOURNAL_PREFIX):
        path = Path(journal_path(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    database = sqlite_path(url)
    if database is None:
        return RDBStorage(url)
    database.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(Path(f"{database}.lock")):
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_TIMEOUT_S}})


@dataclass(frozen=True)
class Search:
    """What a study searches: told apart from another command's by `describe()`."""

    space: SearchSpace
    objective: str
    direction: str
    seeds_per_trial: int

    def describe(self) -> dict:
        return {
            "space": {key: distribution_to_json(d) for key, d in self.space.distributions.items()},
            "fixed": sorted(self.space.fixed),
            "objective": self.objective,
            "direction": self.direction,
            "seeds_per_trial": self.seeds_per_trial,
        }

    def default_study_name(self, experiment: str) -> str:
        """`<experiment>-<hash of the search>`: the same command, the same study; a rerun continues it."""
        digest = hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:10]
        return f"{experiment}-{digest}"


def load_existing(storage: BaseStorage, study_name: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None


def check_same_search(study: optuna.Study, search: Search, url: str) -> None:
    """Refuse to continue a study made for another search (space, fixed values, objective, direction)."""
    stored = study.user_attrs.get(SEARCH_ATTR)
    if stored is None:
        stored = {"direction": study.direction.name.lower()}
    expected = search.describe()
    differing = [key for key in expected if key in stored and stored[key] != expected[key]]
    if differing:
        details = "; ".join(
            f"{key}: stored {_short(stored[key])}, asked {_short(expected[key])}" for key in differing
        )
        raise StudyError(
            f"hydra.sweeper.study_name={study.study_name} in {scrub_text(url)} was made for another search "
            f"({details}): name another study or use the same space"
        )


def _short(value) -> str:
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(v, str) and v.startswith("{") for v in value.values())
    ):
        value = {key: json.loads(text)["name"] for key, text in value.items()}  # distribution class names
    return json.dumps(value, sort_keys=True)[:120]


def open_study(
    storage: BaseStorage,
    url: str,
    study_name: str,
    search: Search,
    sampler: optuna.samplers.BaseSampler | None = None,
) -> optuna.Study:
    """The study in `storage` (opened from `url`), created for `search` if missing; refused if it was
    made for another search."""
    existing = load_existing(storage, study_name)
    if existing is not None:
        check_same_search(existing, search, url)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=search.direction,
        sampler=sampler,
        load_if_exists=True,
    )
    if SEARCH_ATTR not in study.user_attrs:
        study.set_user_attr(SEARCH_ATTR, search.describe())
    return study


def trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial `number`, by the storage's public methods (`Trial._trial_id` is private)."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
