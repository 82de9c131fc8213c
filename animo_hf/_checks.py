"""Argument checks shared by the pipeline and the samplers."""

from __future__ import annotations

import operator
from typing import Any


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` >= 1 (any integer type, not a float or bool); ``ValueError`` naming
    ``name`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name}: expected a positive integer, got {number}")
    return number
