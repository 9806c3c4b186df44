"""The files a job leaves in its run: written to a directory, then sent to MLflow in one call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from harness.curves import CURVE_FILE
from harness.job.plots import plot_fit, plot_loss
from harness.tracking import scrub
from harness.training.config import Config
from harness.training.loop import TrainResult


def write_artifacts(result: TrainResult, config: Config, title: str, directory: Path) -> list[Path]:
    """`config.yaml`, `graph.dot`, `curve.npz`, `loss.png`; for a finished run also `fit.png`, `fit.npz`,
    `model.npz`."""
    written = [
        directory / "config.yaml",
        directory / "graph.dot",
        write_curve(result.losses, directory),
        plot_loss(result.losses, directory / "loss.png", title),
    ]
    written[0].write_text(OmegaConf.to_yaml(OmegaConf.create(scrub(config.as_data()))))
    written[1].write_text(result.graph_dot)
    if result.completed:
        x, y_pred, y_target = result.eval_x, result.eval_pred, result.eval_target
        written.append(plot_fit(x, y_pred, y_target, directory / "fit.png", title))
        np.savez(directory / "fit.npz", x=x, y_pred=y_pred, y_target=y_target)
        np.savez(directory / "model.npz", **result.parameters)
        written += [directory / "fit.npz", directory / "model.npz"]
    return written


def write_curve(losses: np.ndarray, directory: Path) -> Path:
    """The loss at every step, in full (`loss` in MLflow may hold window means): what the report reads."""
    np.savez(directory / CURVE_FILE, loss=losses)
    return directory / CURVE_FILE


def result_metrics(result: TrainResult) -> dict[str, float]:
    metrics = {"train_seconds": result.train_seconds}
    if result.completed:
        metrics |= {
            "eval_mse": result.eval_mse,
            "eval_max_abs_err": result.eval_max_abs_err,
            "final_loss": result.final_loss,
        }
    return metrics
