"""``tf.random``: seeded random tensors, stateless variants and ``Generator``."""

from tapeflow.ops.random_ops import (  # noqa: F401
    Generator,
    categorical,
    get_global_generator,
    get_global_seed,
    normal,
    set_global_generator,
    set_seed,
    shuffle,
    stateless_categorical,
    stateless_normal,
    stateless_truncated_normal,
    stateless_uniform,
    truncated_normal,
    uniform,
)
from tapeflow.ops.random_ops import categorical as multinomial  # noqa: F401
