"""Behaviours checked against TensorFlow 2.21 in the issue-2 audit (expected values and error
types recorded from TF and pasted in as constants)."""

import numpy as np
import pytest

import tapeflow as tf

IAE = tf.errors.InvalidArgumentError


# ---------------------------------------------------------------- broadcasting errors
@pytest.mark.parametrize("fn", [
    lambda: tf.add(tf.ones([2]), tf.ones([3])),
    lambda: tf.ones([2, 3]) + tf.ones([4, 3]),
    lambda: tf.maximum(tf.ones([2]), tf.ones([3])),
    lambda: tf.equal(tf.ones([2]), tf.ones([3])),
    lambda: tf.ones([2]) / tf.ones([3]),
    lambda: tf.pow(tf.ones([2]), tf.ones([3])),
    lambda: tf.clip_by_value(tf.ones([2]), 1.0, tf.ones([3])),
])
def test_incompatible_shapes_raise_invalid_argument(fn):
    # TF: InvalidArgumentError "Incompatible shapes: [2] vs. [3]"
    with pytest.raises(IAE, match=r"Incompatible shapes: \[2(,3)?\] vs\. \[.*\[?[34]"):
        fn()


def test_incompatible_shapes_inside_a_tape():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape():
        with pytest.raises(IAE, match=r"Mul: Incompatible shapes: \[2\] vs. \[3\]"):
            _ = x * tf.ones([3])


def test_where_incompatible_shapes():
    with pytest.raises(IAE, match="SelectV2: Incompatible shapes"):
        tf.where(tf.constant([True, False]), tf.ones([3]), tf.ones([3]))


def test_eq_operator_on_incompatible_shapes_is_false_but_dtype_mismatch_raises():
    assert (tf.constant([1, 2]) == tf.constant([1, 2, 3])) is False
    assert (tf.constant([1, 2]) != tf.constant([1, 2, 3])) is True
    with pytest.raises(IAE, match="Equal: cannot compute Equal as input #1"):
        _ = tf.constant([1, 2]) == tf.constant([1.0, 2.0])


# ---------------------------------------------------------------- dtype rules
@pytest.mark.parametrize("fn", [tf.exp, tf.math.log, tf.sqrt, tf.sigmoid, tf.tanh, tf.sin,
                                tf.math.softplus, tf.nn.softmax, tf.nn.log_softmax, tf.nn.elu,
                                tf.math.floor, tf.math.is_nan])
def test_float_only_ops_refuse_integers(fn):
    # TF: "Value for attr 'T' of int32 is not in the list of allowed values" (InvalidArgument);
    # NumPy would silently return float64 (or, for sigmoid, a wrong int result).
    with pytest.raises(IAE, match="expected a floating-point tensor.*got dtype int32"):
        fn(tf.constant([1, 2]))


def test_reduce_std_of_integers_is_a_type_error():
    with pytest.raises(TypeError, match="real or complex"):
        tf.math.reduce_std(tf.constant([1, 2]))


def test_integer_division_by_zero():
    with pytest.raises(IAE, match="Integer division by zero"):
        _ = tf.constant([1]) // tf.constant([0])
    with pytest.raises(IAE, match="Integer division by zero"):
        _ = tf.constant([1]) % 0
    # floats follow IEEE
    assert np.isinf((tf.constant([1.0]) // 0.0).numpy()[0])


def test_integer_to_negative_power():
    with pytest.raises(IAE, match="Integers to negative integer powers are not allowed"):
        _ = tf.constant([2, 3]) ** -1


def test_bitwise_operators_on_integers():
    # TF: & | ^ ~ are bitwise on integer tensors and logical on bool ones
    a, b = tf.constant([3, 5]), tf.constant([1, 2])
    assert (a & b).numpy().tolist() == [1, 0]
    assert (a | b).numpy().tolist() == [3, 7]
    assert (a ^ 1).numpy().tolist() == [2, 4]
    assert (~tf.constant([3, 0])).numpy().tolist() == [-4, -1]
    assert (a & b).dtype == tf.int32
    t, f = tf.constant([True, False]), tf.constant([True, True])
    assert (t & f).numpy().tolist() == [True, False]
    assert (~t).numpy().tolist() == [False, True]
    assert tf.bitwise.left_shift(tf.constant([1]), 3).numpy().tolist() == [8]
    with pytest.raises(IAE, match="BitwiseAnd: expected integer tensors"):
        tf.bitwise.bitwise_and(tf.constant([1.0]), tf.constant([1.0]))


# ---------------------------------------------------------------- creation
def test_range_validation_and_dtypes():
    with pytest.raises(IAE, match=r"Requires start <= limit when delta > 0: 3/1"):
        tf.range(3, 1)
    with pytest.raises(IAE, match=r"Requires delta != 0"):
        tf.range(0, 5, 0)
    with pytest.raises(IAE, match=r"Requires start >= limit when delta < 0"):
        tf.range(0, 5, -1)
    assert tf.range(5, 0, -1).numpy().tolist() == [5, 4, 3, 2, 1]
    assert tf.range(tf.constant(3, tf.int64)).dtype == tf.int64
    assert tf.range(tf.constant(2.0, tf.float64)).dtype == tf.float64
    assert tf.range(1.0, 5).dtype == tf.float32


def test_negative_dimensions():
    for fn in (lambda: tf.zeros([-1]), lambda: tf.ones([2, -1]), lambda: tf.fill([2, -1], 1.0)):
        with pytest.raises(IAE, match="Dimension -1 must be >= 0"):
            fn()


def test_linspace_of_integers_is_float64():
    out = tf.linspace(0, 1, 3)  # TF: float64 [0., 0.5, 1.]
    assert out.dtype == tf.float64
    np.testing.assert_allclose(out.numpy(), [0.0, 0.5, 1.0])


def test_constant_errors():
    with pytest.raises(ValueError, match=r"Attempt to convert a value \(None\)"):
        tf.constant(None)
    with pytest.raises(ValueError, match="non-rectangular Python sequence"):
        tf.constant([[1, 2], [3]])


def test_dtype_str_and_repr():
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert repr(tf.int64) == "tf.int64"


def test_getitem_with_a_float_is_a_type_error():
    with pytest.raises(TypeError, match=r"Only integers, slices .* got 1.0"):
        _ = tf.range(4)[1.0]


def test_empty_max_min():
    # TF: reduce_max over no elements is -inf (float) / the dtype's lowest (int)
    assert tf.reduce_max(tf.zeros([0])).numpy() == -np.inf
    assert tf.reduce_min(tf.zeros([0])).numpy() == np.inf
    assert tf.reduce_max(tf.zeros([0], tf.int32)).numpy() == np.iinfo(np.int32).min
    assert tf.reduce_max(tf.zeros([2, 0]), axis=1).numpy().tolist() == [-np.inf, -np.inf]


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("fn, expected", [
    (tf.sqrt, [1.0, 0.5]),            # recorded from TF 2.21
    (tf.math.rsqrt, [1.0, -0.5]),
    (tf.math.reciprocal, [1.0, -1.0]),
])
def test_where_guarded_singular_gradient_is_not_nan(fn, expected):
    # TF's SqrtGrad/RsqrtGrad/ReciprocalGrad give 0 where the upstream gradient is 0.
    x = tf.Variable([0.0, 1.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.where(x > 0, fn(x), x))
    np.testing.assert_allclose(t.gradient(y, x).numpy(), expected)


def test_sign_gradient_is_zero_not_none():
    x = tf.Variable([1.3, -2.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.sign(x))
    assert t.gradient(y, x).numpy().tolist() == [0.0, 0.0]


def test_custom_gradient_using_variables_needs_variables_argument():
    w = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            return dy * w
        return x * w, grad

    with pytest.raises(TypeError, match="grad_fn must accept keyword argument 'variables'"):
        with tf.GradientTape() as t:
            x = tf.constant(3.0)
            t.watch(x)
            f(x)


def test_custom_gradient_variables_keyword_without_variables():
    # TF passes ``variables`` only when f used some; a plain return value is then fine.
    @tf.custom_gradient
    def f(x):
        def grad(dy, variables=None):
            assert variables is None
            return dy * 5.0
        return x * 2.0, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = f(x)
    assert float(t.gradient(y, x)) == 5.0


def test_gradient_target_none_and_output_gradient_shape():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
    with pytest.raises(TypeError, match="`target` should be"):
        t.gradient(None, x)
    with pytest.raises(IAE, match=r"output_gradients entry has shape \(3,\)"):
        t.gradient(y, x, output_gradients=tf.constant([1.0, 2.0, 3.0]))


# ---------------------------------------------------------------- tf.function and debugging
def test_function_returns_tensors_for_python_values():
    @tf.function
    def f(x):
        return {"a": 3, "b": (x * 2, None, 1.5)}

    out = f(tf.constant(1.0))
    assert isinstance(out["a"], tf.Tensor) and out["a"].dtype == tf.int32
    assert out["b"][1] is None and out["b"][2].dtype == tf.float32
    assert isinstance(tf.function(lambda x: x * 2)(3), tf.Tensor)


def test_assert_equal_reports_the_real_element_count():
    with pytest.raises(IAE, match=r"First 2 elements of x:\n\[1 2\]\nFirst 2 elements of y"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))


# ---------------------------------------------------------------- names added in the audit
def test_added_names_exist_at_tensorflow_paths():
    for path in ["acos", "asin", "atan2", "acosh", "asinh", "atanh", "realdiv", "saturate_cast",
                 "scalar_mul", "executing_eagerly", "name_scope", "device",
                 "control_dependencies", "init_scope", "ensure_shape", "no_gradient",
                 "get_static_value", "identity_n", "shape_n", "slice", "repeat",
                 "math.erfc", "math.xlogy", "math.xdivy", "math.multiply_no_nan",
                 "math.scalar_mul", "linalg.inv", "linalg.det", "linalg.slogdet",
                 "linalg.logdet", "linalg.solve", "linalg.adjoint", "bitwise.bitwise_and",
                 "debugging.assert_non_positive", "debugging.assert_integer",
                 "debugging.assert_rank_in"]:
        obj = tf
        for part in path.split("."):
            obj = getattr(obj, part)
        assert callable(obj), path


def test_added_math_values():
    # recorded from TF 2.21
    np.testing.assert_allclose(tf.math.atan2(tf.constant([1.0, -1.0]), 0.0).numpy(),
                               [1.5707964, -1.5707964], rtol=1e-6)
    assert tf.math.xlogy(0.0, 0.0).numpy() == 0.0
    assert tf.math.multiply_no_nan(np.inf, 0.0).numpy() == 0.0
    assert tf.saturate_cast(tf.constant([-1.0, 300.0]), tf.int8).numpy().tolist() == [-1, 127]
    assert tf.saturate_cast(tf.constant([-1, 300]), tf.uint8).numpy().tolist() == [0, 255]
    with pytest.raises(IAE, match="Asin: expected a floating-point tensor"):
        tf.math.asin(tf.constant([1]))


def test_linalg_values_and_errors():
    a = tf.constant([[2.0, 1.0], [0.5, 3.0]])
    assert float(tf.linalg.det(a)) == pytest.approx(5.5)
    np.testing.assert_allclose(tf.linalg.inv(a).numpy() @ a.numpy(), np.eye(2), atol=1e-6)
    np.testing.assert_allclose(tf.linalg.solve(a, [[1.0], [2.0]]).numpy(),
                               np.linalg.solve(a.numpy(), [[1.0], [2.0]]), rtol=1e-6)
    with pytest.raises(IAE, match="square matrix"):
        tf.linalg.inv(tf.ones([2, 3]))
    with pytest.raises(IAE, match="not invertible"):
        tf.linalg.inv(tf.zeros([2, 2]))


def test_slice_repeat_ensure_shape():
    x = tf.reshape(tf.range(6), [2, 3])
    assert tf.slice(x, [1, 0], [1, 2]).numpy().tolist() == [[3, 4]]
    with pytest.raises(IAE, match="slice: Expected begin"):
        tf.slice(x, [0, 2], [1, 2])
    assert tf.repeat(tf.constant([1, 2]), 2).numpy().tolist() == [1, 1, 2, 2]
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.repeat(v, [2, 3]) * tf.range(5.0))
    assert t.gradient(y, v).numpy().tolist() == [1.0, 9.0]
    assert tf.ensure_shape(x, [None, 3]) is x
    with pytest.raises(IAE, match="not compatible with expected shape"):
        tf.ensure_shape(x, [3, None])
    with tf.name_scope("s") as scope, tf.device("/CPU:0"), tf.control_dependencies([]):
        assert scope == "s/"
    assert tf.executing_eagerly()


def test_added_debugging_asserts():
    with pytest.raises(IAE, match="Condition x <= 0"):
        tf.debugging.assert_non_positive(tf.constant([1.0]))
    with pytest.raises(TypeError, match="Expected integer type"):
        tf.debugging.assert_integer(tf.constant([1.0]))
    with pytest.raises(IAE, match=r"rank in \[1, 3\]"):
        tf.debugging.assert_rank_in(tf.zeros([2, 2]), [1, 3])


def test_repr_format_hash_len_match_tensorflow():
    # TF 2.21 shows a float scalar as its Python float
    assert repr(tf.constant(0.1)) == ("<tf.Tensor: shape=(), dtype=float32, "
                                      "numpy=0.10000000149011612>")
    assert repr(tf.Variable(0.1)).endswith("numpy=0.10000000149011612>")
    assert str(tf.constant(0.1)) == "tf.Tensor(0.1, shape=(), dtype=float32)"
    assert f"{tf.constant([[1.5, 2]])}" == "[[1.5 2. ]]"
    assert f"{tf.constant(2.5):.3f}" == "2.500"
    with pytest.raises(TypeError, match=r"Tensor is unhashable. Instead, use tensor.ref\(\)"):
        hash(tf.constant(1.0))
    with pytest.raises(TypeError, match="Scalar tensor has no `len"):
        len(tf.constant(1.0))


def test_getitem_stride_and_ellipsis_errors():
    with pytest.raises(IAE, match="strides must be non-zero"):
        _ = tf.range(5)[::0]
    with pytest.raises(IAE, match="Multiple ellipses"):
        _ = tf.range(5)[..., ...]


def test_one_hot_dtype_follows_on_value():
    out = tf.one_hot([0, 2], 3, on_value=5, off_value=-1)  # TF: int32
    assert out.dtype == tf.int32
    assert out.numpy().tolist() == [[5, -1, -1], [-1, -1, 5]]


def test_input_signature_shape_mismatch_is_a_type_error():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
    def f(x):
        return x * 2

    with pytest.raises(TypeError, match="Binding inputs to tf.function failed"):
        f(tf.constant([[1.0]]))


def test_reduce_prod_gradient_with_zeros():
    # recorded from TF 2.21: the product of the other elements, not NaN
    x = tf.Variable([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    with tf.GradientTape(persistent=True) as t:
        z = tf.reduce_sum(tf.reduce_prod(x, axis=1))
        w = tf.reduce_sum(tf.reduce_prod(x, axis=0, keepdims=True))
    assert t.gradient(z, x).numpy().tolist() == [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert t.gradient(w, x).numpy().tolist() == [[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]]


def test_batch_jacobian_of_an_unconnected_source_is_zeros():
    # TF returns zeros here (not None), whatever unconnected_gradients says
    x, z = tf.ones([2, 3]), tf.ones([2, 3])
    with tf.GradientTape() as t:
        t.watch([x, z])
        y = x * 2
    out = t.batch_jacobian(y, z)
    assert out.shape == (2, 3, 3) and not np.any(out.numpy())


def test_stop_recording_outside_the_block_raises():
    t = tf.GradientTape()
    with pytest.raises(RuntimeError, match="not recording"):
        with t.stop_recording():
            pass


def test_variable_assign_of_a_tensor_with_another_dtype():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="requested dtype float32 for Tensor with dtype int32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="assign_add: Tensor conversion"):
        v.assign_add(tf.constant([1.0, 2.0], tf.float64))
    v.assign([3, 4])  # Python values (and NumPy arrays) are converted, as in TF
    v.assign_add(np.array([0.5, 0.5]))
    assert v.numpy().tolist() == [3.5, 4.5]


def test_more_math_functions_match_tensorflow():
    # values recorded from TF 2.21
    got = tf.math.in_top_k(targets=[2, 0], predictions=[[0.1, 0.3, 0.6], [0.5, 0.4, 0.1]], k=1)
    assert got.numpy().tolist() == [True, True]
    assert tf.nn.in_top_k([1], [[0.5, 0.5, 0.1]], 1).numpy().tolist() == [True]  # tie counts
    assert tf.math.reduce_euclidean_norm([[3.0, 4.0]], axis=1).numpy().tolist() == [5.0]
    assert tf.math.reduce_euclidean_norm(tf.constant([[3, 4]])).dtype == tf.int32
    assert tf.nn.crelu([[-1.0, 2.0]]).numpy().tolist() == [[0.0, 2.0, 1.0, 0.0]]
    assert float(tf.math.polyval([1.0, 2.0, 3.0], 2.0)) == 11.0
    assert tf.math.bincount([1, 1, 3]).numpy().tolist() == [0, 2, 0, 1]
    np.testing.assert_allclose(
        tf.math.bincount([1, 1, 3], minlength=6, weights=[0.5, 1.0, 2.0]).numpy(),
        [0.0, 1.5, 0.0, 2.0, 0.0, 0.0])
    assert tf.math.confusion_matrix([0, 1, 2], [0, 2, 2]).numpy().tolist() == \
        [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    cm = tf.math.confusion_matrix([0, 1], [1, 1], num_classes=3, dtype=tf.float32)
    assert cm.dtype == tf.float32 and cm.numpy().tolist()[0] == [0.0, 1.0, 0.0]
    m, v = tf.nn.normalize_moments(tf.constant(2.0), tf.constant([4.0]), tf.constant([10.0]),
                                   None)
    assert (m.numpy().tolist(), v.numpy().tolist()) == ([2.0], [1.0])
    with pytest.raises(IAE, match="bincount: arr must be non-negative"):
        tf.math.bincount([-1])


def test_crelu_gradient():
    x = tf.Variable([[-1.0, 2.0]])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.nn.crelu(x) * [[1.0, 2.0, 3.0, 4.0]])
    # d/dx relu(x)*w1 + relu(-x)*w2: x=-1 -> -3, x=2 -> 2
    assert t.gradient(y, x).numpy().tolist() == [[-3.0, 2.0]]


def test_module_collects_variables_in_tensorflow_order():
    class Inner(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(1.0, name="k")

    class Outer(tf.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.z = tf.Variable(2.0, name="z", trainable=False)
            self.a = [Inner(), {"x": tf.Variable(3.0, name="x")}]
            self.b = tf.Variable(4.0, name="b")

    o = Outer()
    # recorded from TF 2.21: own leaves by attribute name, then sub-modules
    assert o.name == "outer" and Outer(name="custom").name == "custom"
    assert [v.name for v in o.variables] == ["x:0", "b:0", "z:0", "k:0"]
    assert [v.name for v in o.trainable_variables] == ["x:0", "b:0", "k:0"]
    assert [type(m).__name__ for m in o.submodules] == ["Inner"]
    with pytest.raises(ValueError, match="a b"):
        tf.Module(name="a b")
    with tf.GradientTape() as t:
        y = o.a[0].k * o.b
    assert [float(g) for g in t.gradient(y, o.trainable_variables[1:])] == [1.0, 4.0]


def test_initializers_and_searchsorted():
    assert tf.zeros_initializer()([2]).numpy().tolist() == [0.0, 0.0]
    assert tf.ones_initializer()([1], tf.int32).dtype == tf.int32
    assert tf.constant_initializer([1, 2])([2, 1]).dtype == tf.int32  # TF infers from value
    assert tf.constant_initializer(3.0)([2]).numpy().tolist() == [3.0, 3.0]
    tf.random.set_seed(0)
    u = tf.random_uniform_initializer(2.0, 3.0)([100]).numpy()
    assert u.min() >= 2.0 and u.max() < 3.0
    got = tf.searchsorted([[0, 3, 9], [1, 2, 3]], [[2, 4], [3, 0]], side="right")
    assert got.numpy().tolist() == [[1, 2], [3, 0]]
    assert tf.searchsorted([1.0, 2.0, 3.0], [2.5, 2.0]).numpy().tolist() == [2, 1]
