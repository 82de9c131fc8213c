"""Argument checks shared by the pipeline, the models and the samplers."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch


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


def check_batch(name: str, batch: np.ndarray | torch.Tensor, width: int) -> None:
    """``ValueError`` naming ``name`` unless ``batch`` has shape (N, width) with N >= 1."""
    if batch.ndim != 2 or batch.shape[1] != width or batch.shape[0] == 0:
        raise ValueError(f"{name}: expected shape (N, {width}), got {tuple(batch.shape)}")
