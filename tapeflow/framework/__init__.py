"""Autodiff core: dtypes, tensors, variables, the op registry and the gradient tape."""
