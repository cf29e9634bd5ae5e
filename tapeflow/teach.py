"""``tf.teach``: the ideas of neural networks as things to run, look at and take apart.

One namespace for the teaching tools (see ``docs/tutorial.md``):

- ``TLU``, ``Perceptron``, ``step`` (from ``tapeflow.neurons``): the threshold logic unit and the
  perceptron trained with the perceptron learning rule;
- ``trace`` (from ``tapeflow.backprop``): one backpropagation step of a Keras model, layer by layer;
- ``plot_activations``, ``plot_decision_boundary``, ``plot_history``, ``plot_network`` (from
  ``tapeflow.plot``, needs matplotlib): the pictures;
- ``xor``, ``circles``: two tiny 2-D data sets that no straight line separates.

>>> import tapeflow as tf
>>> tf.teach.TLU([1.0, 1.0], bias=-0.5)([[0, 0], [1, 0]]).numpy()     # logical OR
array([0., 1.])
"""

from tapeflow._backend import np
from tapeflow.backprop import BackpropTrace, trace  # noqa: F401
from tapeflow.neurons import TLU, ConvergenceWarning, NotFittedError, Perceptron, step  # noqa
from tapeflow.plot import (
    activation_derivative,
    plot_activations,
    plot_decision_boundary,
    plot_history,
    plot_network,
)

__all__ = ["TLU", "Perceptron", "step", "NotFittedError", "ConvergenceWarning", "trace",
           "BackpropTrace", "plot_activations", "plot_decision_boundary", "plot_history",
           "plot_network", "activation_derivative", "xor", "circles"]


def xor():
    """The XOR problem: 4 points of ``{0, 1}^2``, label 1 where exactly one input is 1.

    Returns ``(x, y)``: float32 ``(4, 2)`` inputs and int32 ``(4,)`` labels. No single straight
    line separates the two classes, so no perceptron can learn it; one hidden layer can.

    >>> from tapeflow.teach import xor
    >>> x, y = xor()
    >>> x.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return x, np.array([0, 1, 1, 0], dtype=np.int32)


def circles(n_samples=200, noise=0.08, factor=0.5, seed=0, shuffle=True):
    """Two concentric rings of 2-D points: label 0 on the outer ring, 1 on the inner one.

    Args:
      n_samples: the number of points (half on each ring).
      noise: the standard deviation of the Gaussian noise added to each coordinate.
      factor: the inner ring's radius relative to the outer ring's (radius 1), in (0, 1).
      seed: the random seed (the same seed gives the same points).
      shuffle: mix the two rings' points (else the outer ring comes first).
    Returns:
      ``(x, y)``: float32 ``(n_samples, 2)`` points and int32 ``(n_samples,)`` labels.

    >>> from tapeflow.teach import circles
    >>> x, y = circles(10, noise=0.0, shuffle=False)
    >>> x.shape, y.tolist()
    ((10, 2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"circles: n_samples must be an int >= 2, got {n_samples!r}.")
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor!r}.")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    a_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    a_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.concatenate([np.stack([np.cos(a_out), np.sin(a_out)], 1),
                        factor * np.stack([np.cos(a_in), np.sin(a_in)], 1)])
    if noise:
        x = x + rng.normal(0.0, noise, size=x.shape)
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)]).astype(np.int32)
    if shuffle:
        order = rng.permutation(n_samples)
        x, y = x[order], y[order]
    return x.astype(np.float32), y
