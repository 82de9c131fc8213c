"""Optional accessories: hairband, ribbon (bow), glasses, hair clip (numpy only)."""

from __future__ import annotations

import numpy as np

from .meshdata import Part, join, make_part, sweep
from .spec import CharacterSpec
from .surface import HeadShape

ORIGIN = np.array([0.0, 0.01, 1.47])


def _over_head(spec: CharacterSpec, head: HeadShape, beta: np.ndarray, extra: float) -> np.ndarray:
    """Points over the hair on an arc across the head (beta = 0 on top, +-pi/2 at the sides)."""
    directions = np.stack([np.sin(beta), np.full_like(beta, 0.12), np.cos(beta)], -1)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    surface = head.along_rays(ORIGIN, directions)
    normal = head.normal(surface[..., 2], head.theta_of(surface))
    return surface + normal * (spec.hair_volume * 1.15 + 0.003 + extra)


def _tube(
    path: np.ndarray,
    hint: np.ndarray,
    width: float | np.ndarray,
    depth: float | np.ndarray,
    ring: int = 8,
) -> Part:
    n = len(path)
    verts, quads, uv = sweep(path, hint, np.broadcast_to(width, n), np.broadcast_to(depth, n), ring)
    return make_part("accessory", verts, [quads], uv, True)


def hairband(spec: CharacterSpec, head: HeadShape) -> Part:
    """A band over the head from ear to ear, behind the bang roots."""
    beta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 33)
    path = _over_head(spec, head, beta, 0.0)
    width = 0.0055 * np.clip(np.cos(beta) * 3.0, 0.35, 1.0)
    width[[0, -1]] = 0.0
    return _tube(path, path - ORIGIN, width, 0.0022 * np.ones(33), ring=10)


def ribbon(spec: CharacterSpec, head: HeadShape) -> Part:
    """A bow on one side of the head facing forward: two wings, a knot and two tails."""
    side = 1.0 if spec.seed % 2 else -1.0
    knot = _over_head(spec, head, np.array([side * 0.27 * np.pi]), 0.008)[0]
    front = np.array([0.0, -1.0, 0.0])
    tilt = side * 0.45
    along = np.array([np.cos(tilt), 0.0, np.sin(tilt)])  # wings: in the image plane, tilted
    radial = np.cross(front, along)  # up-and-out, in the image plane
    s = np.linspace(0.0, 1.0, 10)
    parts = []
    for sign in (1.0, -1.0):
        wing = knot + np.outer(s, sign * along * 0.03) + np.outer(np.sin(np.pi * s) * 0.004, radial)
        width = 0.004 + 0.011 * np.sin(np.pi * s**0.8) ** 0.8
        width[-1] = 0.0
        parts.append(_tube(wing, front, width, 0.003))
        tail = knot + np.outer(s, sign * along * 0.012 + np.array([0.0, -0.004, -0.03]))
        tail_width = 0.0045 * np.ones(10)
        tail_width[-1] = 0.0
        parts.append(_tube(tail, front, tail_width, 0.0012))
    knot_path = knot + np.outer(np.linspace(-0.005, 0.005, 4), radial)
    parts.append(_tube(knot_path, front, np.array([0.0, 0.005, 0.005, 0.0]), 0.0045))
    return join(parts)


def glasses(spec: CharacterSpec, head: HeadShape) -> Part:
    """Thin round-rectangle frames around the eyes, a bridge and temples into the hair."""
    half_w, half_h = 0.64 * spec.eye_width, 0.55 * spec.eye_height
    y_plane = float(head.front_y(np.array(spec.eye_spacing), np.array(spec.eye_z))) - 0.012
    angle = np.linspace(0.0, 2 * np.pi, 41)
    c, s = np.cos(angle), np.sin(angle)
    superx = np.sign(c) * np.abs(c) ** 0.6
    supery = np.sign(s) * np.abs(s) ** 0.6
    parts = []
    for side in (1.0, -1.0):
        cx, cz = side * spec.eye_spacing, spec.eye_z - 0.003
        rim = np.stack([cx + half_w * superx, np.full_like(c, y_plane), cz + half_h * supery], -1)
        parts.append(_tube(rim, np.array([0.0, -1.0, 0.0]), 0.0011, 0.0011))
        outer = np.array([cx + side * half_w, y_plane, cz + 0.3 * half_h])
        ear = head.shell(np.array(spec.eye_z + 0.01), np.array(side * 0.55 * np.pi), 0.004)
        temple = outer + np.outer(np.linspace(0.0, 1.0, 6), ear - outer)
        parts.append(_tube(temple, np.array([0.0, 0.0, 1.0]), 0.001, 0.0008))
    inner = spec.eye_spacing - half_w
    t = np.linspace(-1.0, 1.0, 7)
    bridge = np.stack(
        [
            inner * t,
            np.full(7, y_plane - 0.001),
            spec.eye_z - 0.003 + 0.4 * half_h + 0.003 * (1 - t**2),
        ],
        -1,
    )
    parts.append(_tube(bridge, np.array([0.0, -1.0, 0.0]), 0.001, 0.001))
    return join(parts)


def hairclip(spec: CharacterSpec, head: HeadShape) -> Part:
    """Two crossed hair pins on the bangs at one side."""
    side = -1.0 if spec.seed % 3 else 1.0
    x0, z0 = side * 0.052, 1.548
    lift = spec.hair_volume * 0.85 + 0.0075
    parts = []
    for tilt in (0.5, -0.5):
        t = np.linspace(-1.0, 1.0, 6)
        x = x0 + 0.011 * t
        z = z0 + 0.011 * t * tilt
        path = head.project(x, z, lift)
        parts.append(_tube(path, np.array([0.0, -1.0, 0.0]), 0.0016, 0.0011))
    return join(parts)


ACCESSORY_BUILDERS = {
    "hairband": hairband,
    "ribbon": ribbon,
    "glasses": glasses,
    "hairclip": hairclip,
}


def accessory_parts(spec: CharacterSpec, head: HeadShape) -> list[Part]:
    """The character's accessory (none for ``spec.accessory == "none"``)."""
    builder = ACCESSORY_BUILDERS.get(spec.accessory)
    return [] if builder is None else [builder(spec, head)]
