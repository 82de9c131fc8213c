"""Eyebrows: a tapered strip along an arc above each eye; morphs move its centre line."""

from __future__ import annotations

import numpy as np

from .meshdata import Part, flipped, grid_faces, make_part
from .spec import CharacterSpec
from .surface import HeadShape

LIFT = 0.0006
SAMPLES = 14
BROW_MODES = ("rest", "troubled", "angry", "raised")


def brow_part(spec: CharacterSpec, head: HeadShape, side: int, mode: str) -> list[Part]:
    """The brow on ``side`` (+1 = character's left, +X) in ``mode`` (one of ``BROW_MODES``)."""
    s = np.linspace(0.0, 1.0, SAMPLES)  # 0 = inner end, 1 = outer end
    inner = spec.eye_spacing - 0.5 * spec.eye_width
    outer = spec.eye_spacing + 0.62 * spec.eye_width
    base_z = spec.brow_z
    x = inner + s * (outer - inner)
    z = base_z + spec.brow_arch * 4 * s * (1 - s) - 0.004 * s**2
    if mode == "troubled":
        z = z + 0.014 * (1 - s) ** 1.5 - 0.004 * s
        x = x - 0.002 * (1 - s)
    elif mode == "angry":
        z = z - 0.011 * (1 - s) ** 1.3 + 0.004 * s
        x = x - 0.003 * (1 - s)
    elif mode == "raised":
        z = z + 0.012 + 0.004 * 4 * s * (1 - s)
    elif mode != "rest":
        raise ValueError(f"unknown brow mode {mode!r}; expected one of {BROW_MODES}")
    thick = spec.brow_thickness * (1.0 - 0.6 * s) * np.clip(s / 0.08, 0.5, 1.0)
    thick = thick * np.clip((1.0 - s) / 0.12, 0.15, 1.0)
    zz = np.stack([z - 0.5 * thick, z + 0.5 * thick])
    xx = np.broadcast_to(side * x[None, :], zz.shape)
    verts = head.project(xx.ravel(), zz.ravel(), LIFT)
    uv = np.stack([np.broadcast_to(s, zz.shape), np.broadcast_to([[0.0], [1.0]], zz.shape)], -1)
    part = make_part("brow", verts, [grid_faces(2, SAMPLES)], uv.reshape(-1, 2))
    return [part if side > 0 else flipped(part)]  # facing -Y on both sides
