"""The notebooks: stored without outputs, and run top to bottom by a real kernel against a real sweep."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, directory: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(directory)}}
    ).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def text_of(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "") + output.get("data", {}).get("text/plain", "") for output in outputs(notebook)
    )


def images_in(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for output in outputs(notebook))


@pytest.mark.parametrize("name", ["sweep_analysis.ipynb", "seed_walkthrough.ipynb"])
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_sweep_analysis_notebook_runs_on_a_sweep(store, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setenv("HARNESS_SWEEP", store.grid)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # let the kernel draw inline

    notebook = execute("sweep_analysis.ipynb", tmp_path)

    text = text_of(notebook)
    assert f"sweep {store.grid}" in text
    for lr in store.GRID["lr"]:
        for width in store.GRID["width"]:
            assert f"lr={lr:g} width={width}" in text  # the summary's settings
    assert images_in(notebook) >= 3  # the loss curves and one sensitivity plot per swept key


def test_seed_walkthrough_notebook_trains_and_plots_the_fit(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)

    notebook = execute("seed_walkthrough.ipynb", tmp_path)

    text = text_of(notebook)
    assert "VectorMatrixMultiply" in text  # the graph, as DOT text or rendered
    assert "mean squared error on 200 points" in text
    assert images_in(notebook) == 2  # the training loss and the fit against the target
