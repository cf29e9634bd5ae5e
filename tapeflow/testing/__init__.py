"""Test helpers: float64 finite-difference gradient checks and the op table runner."""
