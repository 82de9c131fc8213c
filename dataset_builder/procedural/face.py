"""The face mesh: head skin, ears, nose, blush lines and the features, for one ``FaceState``.

Every state gives the same topology, so shape keys are the vertex positions of a morph's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from .brows import brow_part
from .eyes import Eye, EyeState
from .meshdata import MeshData, Part, fan_faces, grid_faces, make_part, merge, sweep
from .mouth import mouth_parts
from .spec import CharacterSpec
from .surface import Z_CHIN, Z_TOP, HeadShape, face_uv

RINGS = 44
SEGMENTS = 64
CHEEK_Z = 1.425


@dataclass(frozen=True)
class FaceState:
    """The expression of the whole face; the default is the rest (Basis) state."""

    eyes: tuple[EyeState, EyeState] = (EyeState(), EyeState())  # (left, right)
    brows: tuple[str, str] = ("rest", "rest")  # (left, right)
    mouth: str = "rest"
    blush: float = 0.0
    cheek_puff: float = 0.0
    sneer_left: float = 0.0


def _skin(head: HeadShape, cheek_puff: float) -> list[Part]:
    """The closed head surface (poles at chin and crown), smooth shaded."""
    k = np.arange(1, RINGS)
    z = Z_CHIN + (Z_TOP - Z_CHIN) * (1 - np.cos(np.pi * k / RINGS)) / 2
    theta = np.linspace(0.0, 2 * np.pi, SEGMENTS, endpoint=False)
    grid = head.point(z[:, None], theta[None, :])
    if cheek_puff:
        for side in (1.0, -1.0):
            weight = np.exp(
                -(((grid[..., 0] - side * 0.06) / 0.025) ** 2)
                - ((grid[..., 2] - CHEEK_Z) / 0.02) ** 2
            )
            grid = grid + cheek_puff * 0.004 * weight[..., None] * np.array([side, -0.5, 0.0])
    verts = np.concatenate([grid.reshape(-1, 3), head.point(np.array([Z_CHIN, Z_TOP]), 0.0)])
    n = len(verts) - 2
    bottom = fan_faces(n, np.arange(SEGMENTS))[:, [0, 2, 1]]
    top = fan_faces(n + 1, (RINGS - 2) * SEGMENTS + np.arange(SEGMENTS))
    uv = face_uv(verts)
    faces = [grid_faces(RINGS - 1, SEGMENTS, closed=True), bottom, top]
    return [make_part("skin", verts, faces, uv, True)]


def _ears(head: HeadShape) -> list[Part]:
    """Two small flattened ears on the sides of the head (skin)."""
    parts = []
    for side in (1.0, -1.0):
        t = np.linspace(0.0, 1.0, 8)
        z = 1.455 + 0.045 * t - 0.012
        base = head.point(z, side * np.pi * 0.52)
        path = (
            base
            + np.array([side * -0.004, 0.006, 0.0])
            + np.outer(np.sin(np.pi * t), [side * 0.008, 0.004, 0])
        )
        widths = 0.011 * np.sin(np.pi * np.clip(t, 0.02, 0.98)) ** 0.6
        verts, quads, _ = sweep(path, np.array([side, 0.3, 0.0]), widths, widths * 0.35, ring=8)
        parts.append(make_part("skin", verts, [quads], face_uv(verts), True))
    return parts


def _nose(spec: CharacterSpec, head: HeadShape, sneer: float) -> list[Part]:
    """A short nose line between eyes and mouth."""
    z0 = 0.45 * spec.eye_z + 0.55 * spec.mouth_z - 0.004 + 0.0015 * sneer
    x = np.array([-0.0012, 0.0012]) + 0.001 * sneer
    zz = np.array([[z0 - 0.0005, z0 - 0.0008], [z0 + 0.0006, z0 + 0.0003]])
    xx = np.broadcast_to(x, zz.shape)
    verts = head.project(xx.ravel(), zz.ravel(), 0.0006)
    return [make_part("line", verts, [grid_faces(2, 2)], np.zeros((4, 2)))]


def _blush_lines(spec: CharacterSpec, head: HeadShape, amount: float) -> list[Part]:
    """Three short diagonal hatch lines per cheek; zero length at rest."""
    xs, zs = [], []
    for side in (1.0, -1.0):
        for i in range(3):
            cx = side * (spec.eye_spacing + (i - 1) * 0.0055)
            cz = spec.eye_z - 0.032
            length = 0.0035 * amount
            d = np.array([side * 0.35, -1.0])
            d /= np.linalg.norm(d)
            ends = np.array([-length, length])
            x = cx + ends * d[0]
            z = cz + ends * d[1]
            xs.append(np.stack([x - 0.0004 * amount, x + 0.0004 * amount]))
            zs.append(np.stack([z, z]))
    xx, zz = np.stack(xs), np.stack(zs)
    verts = head.project(xx.ravel(), zz.ravel(), 0.0006)
    quads = np.array([[0, 1, 3, 2]]) + 4 * np.arange(len(xs))[:, None]
    return [make_part("line", verts, [quads], np.zeros((len(verts), 2)))]


class FaceBuilder:
    """Builds the face mesh for any ``FaceState``, reusing parts shared between states."""

    def __init__(self, spec: CharacterSpec, head: HeadShape) -> None:
        self.spec, self.head = spec, head
        self.eyes = {side: Eye(spec, head, side) for side in (1, -1)}
        self.ears = _ears(head) if spec.ears else []
        self._cache: dict[tuple, list[Part]] = {}

    def _parts(self, key: tuple, make: Callable[[], list[Part]]) -> list[Part]:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def mesh(self, state: FaceState) -> MeshData:
        """The face mesh (skin + features) in ``state``."""
        spec, head = self.spec, self.head
        parts = self._parts(("skin", state.cheek_puff), partial(_skin, head, state.cheek_puff))
        parts = parts + self.ears
        for side, eye_state in zip((1, -1), state.eyes, strict=True):
            parts += self._parts(
                ("eye", side, eye_state), partial(self.eyes[side].parts, eye_state)
            )
        for side, mode in zip((1, -1), state.brows, strict=True):
            parts += self._parts(("brow", side, mode), partial(brow_part, spec, head, side, mode))
        parts += self._parts(("mouth", state.mouth), partial(mouth_parts, spec, head, state.mouth))
        parts += self._parts(
            ("nose", state.sneer_left), partial(_nose, spec, head, state.sneer_left)
        )
        parts += self._parts(("blush", state.blush), partial(_blush_lines, spec, head, state.blush))
        return merge(parts)
