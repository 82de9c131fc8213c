"""The mouth: an interior between two lip curves plus an outline strip around it.

At rest both lip curves coincide, so the interior has no area and the outline reads as a small
line. Each vowel is a pair of lip curves; the morph is the difference of the two geometries.
"""

from __future__ import annotations

import numpy as np

from .meshdata import Part, grid_faces, make_part
from .spec import CharacterSpec
from .surface import HeadShape

LIFT = {"mouth": 0.0004, "line": 0.0008}
SAMPLES = 21
ROWS = 6
OPEN_HEIGHT = 0.028  # height of the wide-open "a"

# shape -> (width factor, upper lip height, lower lip depth, curve exponent), heights in units of
# OPEN_HEIGHT; "round" shapes use a half-ellipse (exponent 0.5).
MOUTH_SHAPES: dict[str, tuple[float, float, float, float]] = {
    "rest": (1.0, 0.0, 0.0, 1.0),
    "a": (1.25, 0.12, 0.95, 0.65),
    "i": (1.45, 0.05, 0.22, 0.8),
    "u": (0.55, 0.18, 0.3, 0.5),
    "e": (1.3, 0.08, 0.5, 0.7),
    "o": (0.85, 0.3, 0.72, 0.5),
    "tongue": (1.05, 0.04, 0.3, 0.7),
    "smirk": (1.0, 0.0, 0.0, 1.0),
}


def _lips(spec: CharacterSpec, shape: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, upper z, lower z) sampled along the mouth width for ``shape``."""
    width, up_h, lo_h, power = MOUTH_SHAPES[shape]
    s = np.sin(np.linspace(-np.pi / 2, np.pi / 2, SAMPLES))  # denser at the corners
    x = s * spec.mouth_width * width
    bump = np.clip(1.0 - s**2, 0.0, 1.0) ** power
    line = spec.mouth_z + spec.smile * s**2 * (1.0 if shape == "rest" else 0.5)
    if shape == "smirk":
        line = line + 0.003 * np.clip(s, 0.0, None) ** 2
    return x, line + up_h * OPEN_HEIGHT * bump, line - lo_h * OPEN_HEIGHT * bump


def mouth_parts(spec: CharacterSpec, head: HeadShape, shape: str) -> list[Part]:
    """Interior and outline of the mouth in ``shape`` (constant topology for every shape)."""
    x, up, lo = _lips(spec, shape)
    t = np.linspace(0.0, 1.0, ROWS)[:, None]
    zz = lo[None, :] + t * (up - lo)[None, :]
    xx = np.broadcast_to(x[None, :], zz.shape)
    uv = np.stack([0.5 + xx / (2 * spec.mouth_width * 1.5), np.broadcast_to(t, zz.shape)], -1)
    interior = make_part(
        "mouth",
        head.project(xx.ravel(), zz.ravel(), LIFT["mouth"]),
        [grid_faces(ROWS, SAMPLES)],
        uv.reshape(-1, 2),
    )
    # closed contour: upper lip left -> right, lower lip right -> left (corners not repeated)
    cx = np.concatenate([x, x[-2:0:-1]])
    cz = np.concatenate([up, lo[-2:0:-1]])
    tangent = np.stack([np.roll(cx, -1) - np.roll(cx, 1), np.roll(cz, -1) - np.roll(cz, 1)], -1)
    tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True) + 1e-12
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], -1)  # points outward (up on the upper lip)
    corner = np.abs(cx) / (np.abs(cx).max() + 1e-9)
    half = 0.5 * (0.0013 + 0.0006 * (1 - corner**4))
    edge = np.stack([-half, half])[..., None]
    ring_x = cx[None, :] + edge[..., 0] * normal[None, :, 0]
    ring_z = cz[None, :] + edge[..., 0] * normal[None, :, 1]
    n = len(cx)
    ruv = np.stack(
        [np.broadcast_to(np.arange(n) / n, (2, n)), np.broadcast_to([[0.0], [1.0]], (2, n))], -1
    )
    outline = make_part(
        "line",
        head.project(ring_x.ravel(), ring_z.ravel(), LIFT["line"]),
        [grid_faces(2, n, closed=True)],
        ruv.reshape(-1, 2),
    )
    return [interior, outline]
