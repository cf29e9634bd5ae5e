"""DESIGN.md's layering rule: only tapeflow/_backend imports NumPy."""

import pathlib
import re

ROOT = pathlib.Path(__file__).parent.parent / "tapeflow"


def test_only_the_backend_imports_numpy():
    pattern = re.compile(r"^\s*(import numpy|from numpy)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if "_backend" not in p.parts and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
