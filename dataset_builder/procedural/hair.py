"""Hair: a cap over the cranium, bangs, side locks and a style-specific back (numpy only).

Styles: short, bob, long, twintails, ponytail, spiky; bangs blunt, jagged, parted or swept; an
optional ahoge. Bangs are strips that follow the forehead and end above the brows (except beside
the eyes); the back hair hangs from the eye-line cross-section so it never cuts into the face.
Hair ties are returned as accessory parts.
"""

from __future__ import annotations

import numpy as np

from .meshdata import Part, fan_faces, frames, grid_faces, join, make_part, sweep
from .spec import CharacterSpec
from .surface import Z_EQ, Z_TOP, HeadShape

CAP_COLUMNS = 96
CAP_ROWS = 18
BANG_SAMPLES = 12


def _rng(spec: CharacterSpec, salt: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, salt])


def _edge_z(spec: CharacterSpec, theta: np.ndarray) -> np.ndarray:
    """Height of the cap's lower edge around the head (hairline at the front, nape at the back)."""
    t = np.abs((theta + np.pi) % (2 * np.pi) - np.pi)
    back = 1.43 if spec.hair_style == "spiky" else 1.395
    front = spec.brow_z + 0.045  # hidden by the bangs
    return np.interp(
        t,
        [0.0, 0.28 * np.pi, 0.5 * np.pi, 0.75 * np.pi, np.pi],
        [front, front - 0.01, 1.45, 1.41, back],
    )


def _cap_lift(spec: CharacterSpec, w: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Thickness of the cap: fuller on top, with clumps around the head."""
    clumps = 1.0 + 0.18 * w * np.abs(np.sin(theta * 7.0 + spec.seed % 7))
    return spec.hair_volume * (0.6 + 0.45 * (1.0 - w)) * clumps + 0.0015


def _arc_z(psi: np.ndarray) -> np.ndarray:
    """Height for the cap's arc parameter (0 = crown, pi/2 = eye line, then straight down)."""
    dome = Z_EQ + (Z_TOP - Z_EQ) * np.cos(np.minimum(psi, np.pi / 2))
    return dome - np.maximum(psi - np.pi / 2, 0.0) * (Z_TOP - Z_EQ)


def _arc_psi(z: np.ndarray) -> np.ndarray:
    """Inverse of ``_arc_z``."""
    above = np.arccos(np.clip((z - Z_EQ) / (Z_TOP - Z_EQ), -1.0, 1.0))
    return np.where(z >= Z_EQ, above, np.pi / 2 + (Z_EQ - z) / (Z_TOP - Z_EQ))


def cap(spec: CharacterSpec, head: HeadShape) -> Part:
    """The hair cap: a shell over the cranium closed by a rim down to the skin at its edge."""
    theta = np.linspace(0.0, 2 * np.pi, CAP_COLUMNS, endpoint=False)
    w = np.linspace(0.0, 1.0, CAP_ROWS + 1)[1:, None]
    psi = 0.06 + (_arc_psi(_edge_z(spec, theta))[None, :] - 0.06) * w
    z = _arc_z(psi)
    lift = _cap_lift(spec, w, theta[None, :])
    grid = head.shell(z, theta[None, :], lift)
    rim = head.shell(z[-1], theta, 0.0005)[None]
    crown = head.shell(np.array(Z_TOP), np.array(0.0), spec.hair_volume * 1.05 + 0.0015)
    verts = np.concatenate([grid.reshape(-1, 3), rim.reshape(-1, 3), crown[None]])
    top = fan_faces(len(verts) - 1, np.arange(CAP_COLUMNS))
    quads = grid_faces(CAP_ROWS + 1, CAP_COLUMNS, closed=True)[:, ::-1]
    return make_part("hair", verts, [quads, top], np.zeros((len(verts), 2)), True)


def _strip(
    points: np.ndarray, side: np.ndarray, out: np.ndarray, width: np.ndarray, ridge: np.ndarray
) -> Part:
    """A strand: three rows (left edge, raised ridge, right edge) along ``points``."""
    rows = np.stack(
        [
            points - side * width[:, None],
            points + out * ridge[:, None],
            points + side * width[:, None],
        ]
    )
    faces = grid_faces(3, len(points))[:, ::-1]  # outward for the callers' side vectors
    return make_part("hair", rows.reshape(-1, 3), [faces], np.zeros((3 * len(points), 2)), True)


def bang_tip_z(spec: CharacterSpec) -> float:
    """Height of the lowest bang tips in front of the eyes: just above the brows' top."""
    brow_top = spec.brow_z + spec.brow_arch
    return brow_top + 0.6 * spec.brow_thickness + 0.002 + 0.024 * (1.0 - spec.bang_length)


def bangs(spec: CharacterSpec, head: HeadShape) -> Part:
    """Bang strands over the forehead; tips stop above the brows in front of the eyes.

    ``spec.bang_style``: blunt (level tips), jagged (alternating lengths), parted (shorter and
    leaning outward at the parting, a V opening) or swept (all leaning to one side).
    """
    rng = _rng(spec, 1)
    n = spec.bangs
    span = 0.74 * spec.face_width
    xs = np.linspace(-span, span, n) + rng.uniform(-0.15, 0.15, n) * (2 * span / n)
    spiky = spec.hair_style == "spiky"
    half = (1.3 if spiky else 1.45) * span / n
    lean = np.sign(xs - spec.parting) * (0.006 + 0.008 * np.abs(xs) / span)
    tips = bang_tip_z(spec) + rng.uniform(0.0, 0.003, n)
    if spec.bang_style == "jagged" or spiky:
        tips += 0.012 * (np.arange(n) % 2) + rng.uniform(0.0, 0.004, n)
        lean *= 2.0 if spiky else 1.0
    elif spec.bang_style == "parted":
        tips += 0.03 * np.clip(1.0 - np.abs(xs - spec.parting) / (0.5 * span), 0.0, 1.0)
        lean *= 2.2
    elif spec.bang_style == "swept":
        direction = 1.0 if spec.seed % 2 else -1.0
        lean = direction * (0.016 + 0.008 * rng.uniform(0.0, 1.0, n))
        tips += 0.016 * (1.0 - direction * xs / span) / 2
    eye_outer = spec.eye_spacing + 0.6 * spec.eye_width
    beside = np.minimum(np.abs(xs), np.abs(xs + lean)) - half > eye_outer
    tips = np.where(beside, spec.eye_top - 0.015 * spec.bang_length, tips)
    s = np.linspace(0.0, 1.0, BANG_SAMPLES)
    strands = []
    for i in range(n):
        x = xs[i] * 0.58 + (xs[i] - xs[i] * 0.58) * s + lean[i] * s**2
        z = 1.597 + (tips[i] - 1.597) * s
        lift = spec.hair_volume * 0.85 + 0.002 + 0.0004 * (i % 3)
        centre = head.project(x, z, lift)
        right = np.gradient(centre, axis=0)
        right = np.cross(right, np.array([0.0, -1.0, 0.0]))
        right /= np.linalg.norm(right, axis=1, keepdims=True)
        out = np.cross(np.gradient(centre, axis=0), right)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        width = half * (1.0 - s ** (1.2 if spiky else 1.8)) ** 0.8 * (1 + 0.3 * (1 - s) ** 4)
        strands.append(_strip(centre, right, -out, width, 0.0022 * (1.0 - s) + 0.0006))
    return join(strands)


def side_locks(spec: CharacterSpec, head: HeadShape, bottom: float) -> Part:
    """Two strands per side framing the face, hanging down to ``bottom``."""
    strands = []
    s = np.linspace(0.0, 1.0, 14)
    for side in (1.0, -1.0):
        for theta, end, width in ((0.36, bottom, 0.011), (0.43, bottom + 0.02, 0.012)):
            z = 1.56 + (end - 1.56) * s
            lift = spec.hair_volume * 0.7 + 0.0025 + 0.004 * s
            th = side * np.pi * (theta + 0.03 * s)
            centre = head.shell(z, th, lift)
            normal = head.normal(np.maximum(z, Z_EQ), th)
            _, across, _ = frames(centre, normal)
            w = width * (1.0 - s**2.2) ** 0.7 + 0.0005
            strands.append(_strip(centre, across, normal, w, 0.003 * (1 - s) + 0.001))
    return join(strands)


def skirt(
    spec: CharacterSpec, head: HeadShape, bottom: float, flare: float, opening: float
) -> Part:
    """Back hair from the cap edge down to ``bottom`` with pointed strand tips, open at the face
    for |theta| < ``opening``."""
    rng = _rng(spec, 2)
    cols, rows = 60, 16
    theta0 = opening
    theta = np.linspace(theta0, 2 * np.pi - theta0, cols)
    clumps = 9 + rng.integers(0, 4)
    tri = np.abs(((theta - theta0) / (2 * np.pi - 2 * theta0) * clumps) % 1.0 - 0.5) * 2
    side_rise = 0.025 * np.cos(theta) ** 2  # shorter beside the face
    end = bottom + side_rise + 0.03 * tri
    t = np.linspace(0.0, 1.0, rows)[:, None]
    z = 1.53 + (end[None, :] - 1.53) * t
    drop = np.maximum(Z_EQ - z, 0.0)
    lift = spec.hair_volume * 0.45 + 0.001 + flare * drop - 0.25 * drop * t**6
    ridges = 1.0 + 0.25 * np.abs(np.sin((theta - theta0) * clumps / 2))[None, :]
    grid = head.shell(z, theta[None, :], lift * ridges)
    return make_part(
        "hair",
        grid.reshape(-1, 3),
        [grid_faces(rows, cols)[:, ::-1]],
        np.zeros((rows * cols, 2)),
        True,
    )


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _tail(
    root: np.ndarray, control: np.ndarray, tip: np.ndarray, radius: float, hint: np.ndarray
) -> tuple[Part, Part]:
    """A bundle of hair (tube bulging then tapering to a point) and the tie at its root."""
    n = 20
    path = _bezier(root, control, tip, n)
    s = np.linspace(0.0, 1.0, n)
    r = radius * (0.45 + 0.55 * np.sin(np.pi * np.clip(s, 0, 1) ** 0.5)) * (1 - s**3) + 1e-4
    verts, quads, uv = sweep(path, hint, r, r * 0.8, ring=12)
    tie_path = path[:3]
    tie_r = np.array([0.0, radius * 0.62 + 0.004, 0.0])
    tverts, tquads, tuv = sweep(tie_path, hint, tie_r, tie_r, ring=12)
    return (
        make_part("hair", verts, [quads], uv, True),
        make_part("accessory", tverts, [tquads], tuv, True),
    )


def tails(spec: CharacterSpec, head: HeadShape) -> tuple[list[Part], list[Part]]:
    """Twin tails or a ponytail (hair parts, tie parts); empty for other styles."""
    lift = spec.hair_volume * 1.2
    if spec.hair_style == "twintails":
        out = [
            _tail(
                head.shell(np.array(1.575), np.array(side * 0.6 * np.pi), lift),
                np.array([side * 0.16, 0.03, 1.58]),
                np.array([side * 0.15, 0.05, 1.27]),
                0.024,
                np.array([0.0, 1.0, 0.0]),
            )
            for side in (1.0, -1.0)
        ]
    elif spec.hair_style == "ponytail":
        out = [
            _tail(
                head.shell(np.array(1.56), np.array(np.pi), lift),
                np.array([0.0, 0.2, 1.56]),
                np.array([0.0, 0.16, 1.3]),
                0.028,
                np.array([1.0, 0.0, 0.0]),
            )
        ]
    else:
        return [], []
    return [h for h, _ in out], [t for _, t in out]


def spikes(
    spec: CharacterSpec,
    head: HeadShape,
    count: int,
    z_range: tuple[float, float],
    length: float,
    spread: float,
) -> Part:
    """Cone-shaped tufts sticking out of the cap, pointing outward and down, around the back
    (``spread`` = pi: all the way round to the front)."""
    rng = _rng(spec, 3)
    theta = np.pi + np.linspace(-spread, spread, count) + rng.uniform(-0.1, 0.1, count)
    z = rng.uniform(*z_range, count)
    parts = []
    for th, zz in zip(theta, z, strict=True):
        base = head.shell(zz, th, spec.hair_volume * 0.6)
        normal = head.normal(max(zz, Z_EQ), th)
        direction = normal + np.array([0.0, 0.3, -0.7])
        direction /= np.linalg.norm(direction)
        size = length * rng.uniform(0.7, 1.2)
        path = base + np.outer(np.linspace(0.0, 1.0, 6), direction * size)
        r = 0.016 * (1 - np.linspace(0.0, 1.0, 6)) ** 1.2 + 1e-4
        verts, quads, uv = sweep(path, normal, r, r * 0.45, ring=8)
        parts.append(make_part("hair", verts, [quads], uv, True))
    return join(parts)


def ahoge(spec: CharacterSpec, head: HeadShape) -> Part:
    """A single strand springing up from the crown and curling forward (an "ahoge")."""
    root = head.shell(np.array(1.615), np.array(0.35 * np.pi * (1 if spec.seed % 2 else -1)), 0.0)
    root = root + np.array([0.0, 0.0, spec.hair_volume])
    t = np.linspace(0.0, 1.0, 12)[:, None]
    lean = 0.4 * (1.0 if spec.seed % 4 < 2 else -1.0)
    path = root + 0.042 * np.hstack(
        [lean * np.sin(2.2 * t), -0.5 * np.sin(np.pi * t), np.sin(2.6 * t)]
    )
    width = 0.0065 * np.sin(np.pi * np.clip(t[:, 0], 0.03, 1.0) ** 0.6)
    verts, quads, uv = sweep(path, np.array([0.0, -1.0, 0.0]), width, 0.35 * width, ring=8)
    return make_part("hair", verts, [quads], uv, True)


def hair_parts(spec: CharacterSpec, head: HeadShape) -> tuple[list[Part], list[Part]]:
    """All hair parts of the character's style and the hair ties (accessory parts)."""
    style = spec.hair_style
    parts = [cap(spec, head), bangs(spec, head)]
    bottoms = {
        "short": 1.43,
        "bob": 1.395,
        "long": 1.3,
        "twintails": 1.40,
        "ponytail": 1.42,
        "spiky": 1.44,
    }
    parts.append(side_locks(spec, head, bottoms[style]))
    skirts = {  # style: (bottom, flare, opening)
        "bob": (1.375, 0.16, 0.31 * np.pi),
        "long": (1.24, 0.22, 0.38 * np.pi),
        "twintails": (1.38, 0.12, 0.38 * np.pi),
    }
    if style in skirts:
        parts.append(skirt(spec, head, *skirts[style]))
    if style == "spiky":
        parts.append(spikes(spec, head, 14, (1.48, 1.61), 0.05, 0.6 * np.pi))
    elif style in ("short", "ponytail"):
        parts.append(spikes(spec, head, 9, (1.41, 1.44), 0.025, 0.35 * np.pi))
    if spec.ahoge:
        parts.append(ahoge(spec, head))
    tail_hair, ties = tails(spec, head)
    return parts + tail_hair, ties


def hair_uv(verts: np.ndarray) -> np.ndarray:
    """UVs for the hair shader: u = angle around the head, v = height."""
    u = np.arctan2(verts[:, 0], -verts[:, 1]) / (2 * np.pi) + 0.5
    v = (verts[:, 2] - 1.2) / 0.45
    return np.stack([u, v], -1)
