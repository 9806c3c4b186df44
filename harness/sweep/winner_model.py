"""The engine's MLP as an MLflow pyfunc model, in MLflow's "models from code" form: MLflow copies this
file into the model and runs it when the model is loaded (nothing is pickled). The network's shape comes
from the `architecture` artifact (JSON), its weights from `parameters` (the run's `model.npz`).

    mlflow.pyfunc.load_model("models:/autograd-mlp/1").predict(np.array([[0.5]]))  # y for each x
"""

from __future__ import annotations

import json

import mlflow
import numpy as np

from engine import Variable
from engine.nn import MLP


def network_from(architecture: dict, parameters: dict[str, np.ndarray]) -> MLP:
    """An MLP of this shape holding these parameter values (names as `MLP.named_parameters`)."""
    hidden = [architecture["width"]] * architecture["depth"]
    network = MLP(1, hidden, 1, negative_slope=architecture["negative_slope"], rng=0)
    for name, parameter in network.named_parameters():
        parameter.values = parameters[name]  # copied into the network's own buffer
    return network


class EngineMLP(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["architecture"]) as file:
            architecture = json.load(file)
        with np.load(context.artifacts["parameters"]) as arrays:
            self.network = network_from(architecture, {name: arrays[name] for name in arrays.files})

    # `np.ndarray` is a type hint MLflow infers no signature from: the signature given when the model is
    # logged stands, and MLflow has no "add type hints" warning to print
    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        """`model_input`: x values, shape (n,) or (n, 1); returns y, shape (n,)."""
        x = np.asarray(model_input, dtype=np.float64).reshape(-1, 1)
        return self.network(Variable(x)).values[:, 0]


mlflow.models.set_model(EngineMLP())
