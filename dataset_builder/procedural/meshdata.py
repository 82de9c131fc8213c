"""Plain numpy mesh data and the few primitive builders every part uses (no bpy).

A ``Part`` is vertices (N, 3), polygons as (loop vertex indices, polygon sizes), per-vertex UVs
and one material role. Parts are merged into ``MeshData`` with a material index per polygon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Part:
    """Geometry of one material role: vertices, polygons (flattened loops + sizes), UVs."""

    role: str
    verts: np.ndarray
    loops: np.ndarray
    sizes: np.ndarray
    uv: np.ndarray
    smooth: bool = False


@dataclass
class MeshData:
    """A merged mesh: one material slot per role, in ``roles`` order."""

    verts: np.ndarray
    loops: np.ndarray
    sizes: np.ndarray
    uv: np.ndarray
    material_index: np.ndarray
    smooth: np.ndarray
    roles: list[str] = field(default_factory=list)


def grid_faces(rows: int, cols: int, closed: bool = False) -> np.ndarray:
    """Quads (M, 4) of a rows x cols vertex grid (row-major); ``closed`` wraps the columns."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if closed else cols - 1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    return np.stack([a, b, b + cols, a + cols], axis=-1).reshape(-1, 4)


def fan_faces(centre: int, ring: np.ndarray) -> np.ndarray:
    """Triangles (M, 3) joining a centre vertex to a closed ring of vertex indices."""
    return np.stack([np.full(len(ring), centre), ring, np.roll(ring, -1)], axis=-1)


def make_part(
    role: str, verts: np.ndarray, faces: list[np.ndarray], uv: np.ndarray, smooth: bool = False
) -> Part:
    """A part from vertices and lists of equal-size face arrays (quads, triangles)."""
    faces = [f for f in faces if len(f)]
    loops = np.concatenate([f.ravel() for f in faces]).astype(np.int32)
    sizes = np.concatenate([np.full(len(f), f.shape[1]) for f in faces]).astype(np.int32)
    return Part(
        role, np.asarray(verts, np.float64), loops, sizes, np.asarray(uv, np.float64), smooth
    )


def flipped(part: Part) -> Part:
    """The part with every polygon's winding reversed (its normals flipped)."""
    starts = np.cumsum(part.sizes) - part.sizes
    start = np.repeat(starts, part.sizes)
    size = np.repeat(part.sizes, part.sizes)
    order = 2 * start + size - 1 - np.arange(len(part.loops))
    return Part(part.role, part.verts, part.loops[order], part.sizes, part.uv, part.smooth)


def join(parts: list[Part]) -> Part:
    """Parts of the same role concatenated into one part."""
    offsets = np.cumsum([0] + [len(p.verts) for p in parts[:-1]])
    return Part(
        parts[0].role,
        np.concatenate([p.verts for p in parts]),
        np.concatenate([p.loops + o for p, o in zip(parts, offsets, strict=True)]),
        np.concatenate([p.sizes for p in parts]),
        np.concatenate([p.uv for p in parts]),
        parts[0].smooth,
    )


def merge(parts: list[Part]) -> MeshData:
    """Parts merged into one mesh, one material slot per distinct role (first-seen order)."""
    roles: list[str] = []
    for p in parts:
        if p.role not in roles:
            roles.append(p.role)
    joined = join(parts)
    return MeshData(
        verts=joined.verts,
        loops=joined.loops,
        sizes=joined.sizes,
        uv=joined.uv,
        material_index=np.concatenate([np.full(len(p.sizes), roles.index(p.role)) for p in parts]),
        smooth=np.concatenate([np.full(len(p.sizes), p.smooth) for p in parts]),
        roles=roles,
    )


def frames(path: np.ndarray, up_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangent, side and normal unit vectors along a polyline (N, 3) given a rough normal hint."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-12
    side = np.cross(tangent, up_hint)
    side /= np.linalg.norm(side, axis=1, keepdims=True) + 1e-12
    normal = np.cross(side, tangent)
    return tangent, side, normal


def sweep(
    path: np.ndarray, normal_hint: np.ndarray, widths: np.ndarray, depths: np.ndarray, ring: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tube with elliptic cross-sections along ``path``; returns (verts, quads, uv).

    ``widths``/``depths`` are the half-axes along the side and normal directions; the ends are
    left open (taper them to zero to close them).
    """
    _, side, normal = frames(path, normal_hint)
    angle = np.linspace(0.0, 2.0 * np.pi, ring, endpoint=False)
    ca, sa = np.cos(angle)[None, :, None], np.sin(angle)[None, :, None]
    verts = (
        path[:, None, :]
        + ca * widths[:, None, None] * side[:, None, :]
        + sa * depths[:, None, None] * normal[:, None, :]
    )
    n = len(path)
    u = np.broadcast_to(angle[None, :] / (2 * np.pi), (n, ring))
    v = np.broadcast_to(np.linspace(0, 1, n)[:, None], (n, ring))
    return (
        verts.reshape(-1, 3),
        grid_faces(n, ring, closed=True)[:, ::-1],  # outward
        np.stack([u, v], -1).reshape(-1, 2),
    )
