"""``keras.metrics``: stateful metrics (``update_state`` / ``result`` / ``reset_state``).

``get("accuracy")``, ``get("mse")`` and friends give metric instances; a callable
``fn(y_true, y_pred)`` is returned as is (wrap it in ``MeanMetricWrapper`` to average it).

>>> from tapeflow import keras
>>> m = keras.metrics.get("mae")
>>> m.update_state([[1.0]], [[3.0]])
>>> float(m.result())
2.0
"""

from tapeflow.keras._objects import to_snake_case
from tapeflow.keras.losses import (  # noqa: F401 - Keras re-exports the loss functions
    _from_identifier,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from tapeflow.keras.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from tapeflow.keras.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from tapeflow.keras.metrics.f_score import F1Score, FBetaScore
from tapeflow.keras.metrics.metric import Metric
from tapeflow.keras.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from tapeflow.keras.metrics.reduction import Mean, MeanMetricWrapper, Sum
from tapeflow.keras.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "TruePositives",
    "FalsePositives", "TrueNegatives", "FalseNegatives", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence", "Poisson",
    "Hinge", "SquaredHinge", "CategoricalHinge", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
    "CosineSimilarity", "LogCoshError", "F1Score", "FBetaScore", "R2Score", "accuracy",
    "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "cosine_similarity", "get", "serialize", "deserialize",
]

_CLASSES = [Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            AUC, Precision, Recall, TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
            BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, MeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            RootMeanSquaredError, CosineSimilarity, LogCoshError, F1Score, FBetaScore, R2Score]
ALL_OBJECTS_DICT = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in _CLASSES})
ALL_OBJECTS_DICT.update({
    "acc": Accuracy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError, "rmse": RootMeanSquaredError, "auc": AUC,
    "logcosh": LogCoshError, "kld": KLDivergence, "KLD": KLDivergence,
})
_FUNCTIONS = {f.__name__: f for f in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)}


def serialize(metric):
    """Keras's dict for ``metric`` (module ``keras.metrics``).

    >>> from tapeflow import keras
    >>> keras.metrics.serialize(keras.metrics.BinaryAccuracy())["config"]
    {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.5}
    """
    if metric is None:
        return None
    if isinstance(metric, Metric):
        return {"module": "keras.metrics", "class_name": type(metric).__name__,
                "config": metric.get_config(), "registered_name": None}
    name = getattr(metric, "__name__", None)
    return {"module": "keras.metrics", "class_name": "function", "config": name,
            "registered_name": name}


def deserialize(config, custom_objects=None):
    """Rebuilds a metric from :func:`serialize`'s dict or a name.

    >>> from tapeflow import keras
    >>> keras.metrics.deserialize({"class_name": "AUC", "config": {"curve": "PR"}}).curve
    'PR'
    """
    table = dict(ALL_OBJECTS_DICT)
    table.update(_FUNCTIONS)
    if custom_objects:
        table.update(custom_objects)
    return _from_identifier(config, table, "metric", sorted(ALL_OBJECTS_DICT))


def get(identifier):
    """A metric from None, a name (``"accuracy"``, ``"mse"``, ``"AUC"``: an instance), a dict,
    a class, an instance or a function.

    >>> from tapeflow import keras
    >>> keras.metrics.get("accuracy").name
    'accuracy'
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
        if obj is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Valid "
                             f"names are: {sorted(ALL_OBJECTS_DICT)}.")
        return obj()
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}.")
