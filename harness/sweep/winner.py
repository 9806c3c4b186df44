"""The sweep's winner as an MLflow model: the best run's network, logged under that run as a pyfunc
model (`winner_model.py`, with a signature and an input example) and registered as a new version of
`model_name`. Done once, at the end of a sweep: never on a job's path."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
from mlflow.models import infer_signature
from omegaconf import OmegaConf

import engine
from harness.sweep.winner_model import network_from
from harness.tracking import Tracker
from harness.training.loop import EVAL_X

MODEL_CODE = Path(__file__).with_name("winner_model.py")
ENGINE_CODE = Path(engine.__file__).parent
EXAMPLE_X = EVAL_X[::40]  # five x values from the evaluation grid


def architecture(config: dict) -> dict:
    return {key: config[key] for key in ("width", "depth", "negative_slope")}


def predict_with_engine(architecture_: dict, parameters: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The engine's own prediction, to give the model its signature."""
    return network_from(architecture_, parameters)(engine.Variable(x)).values[:, 0]


def publish_winner(tracker: Tracker, run_id: str, model_name: str | None) -> tuple[str, str | None]:
    """Log run `run_id`'s network as its `model`, registered under `model_name` unless None;
    return the model's `runs:/` URI and its registered version."""
    with tempfile.TemporaryDirectory(prefix="harness-winner-") as scratch:
        directory = Path(scratch)
        parameters_path = tracker.download_artifact(run_id, "model.npz", directory)
        config = OmegaConf.to_container(
            OmegaConf.load(tracker.download_artifact(run_id, "config.yaml", directory))
        )
        shape = architecture(config)
        architecture_path = directory / "architecture.json"
        architecture_path.write_text(json.dumps(shape))
        with np.load(parameters_path) as arrays:
            prediction = predict_with_engine(shape, {name: arrays[name] for name in arrays.files}, EXAMPLE_X)
        return tracker.log_pyfunc_model(
            run_id,
            model_name,
            python_model=str(MODEL_CODE),
            artifacts={"parameters": str(parameters_path), "architecture": str(architecture_path)},
            code_paths=[str(ENGINE_CODE)],
            signature=infer_signature(EXAMPLE_X, prediction),
            input_example=EXAMPLE_X,
            pip_requirements=[f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"],
        )
