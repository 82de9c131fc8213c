"""The head surface: a stack of superellipse cross-sections with analytic front projection.

For a height z the cross-section is ``|x/a|^n + |(y - yc)/b|^n = 1`` (flatter at the front,
``n = FRONT_EXPONENT``; round at the back). Above ``z_eq`` it is a dome (the cranium); below, the
width tapers to the chin and the back of the jaw moves forward, so the chin sits at the front.
Face features are placed in face coordinates (x, z) and projected onto the front (``front_y``).
"""

from __future__ import annotations

import numpy as np

from .spec import CharacterSpec

HEAD_CENTRE_Z = 1.5
HEAD_HEIGHT = 0.25
Z_CHIN = HEAD_CENTRE_Z - HEAD_HEIGHT / 2
Z_TOP = HEAD_CENTRE_Z + HEAD_HEIGHT / 2
Z_EQ = 1.475  # widest cross-section (eye line)
FRONT_EXPONENT = 2.4
BACK_EXPONENT = 2.0
DOME_EXPONENT = 2.3  # > 2: a fuller, rounder cranium
DEPTH = 0.108  # half-depth of the cranium at the front


def face_uv_v(z: np.ndarray | float) -> np.ndarray | float:
    """The v of face UVs at height z (0 at the chin, 1 per 0.3 m)."""
    return (z - Z_CHIN) / 0.3


def face_uv(verts: np.ndarray) -> np.ndarray:
    """Face UVs: a front projection, u = 0.5 + x / 0.3, v = ``face_uv_v(z)``."""
    return np.stack([0.5 + verts[:, 0] / 0.3, face_uv_v(verts[:, 2])], -1)


class HeadShape:
    """The head surface of one character (metres, Z up, face toward -Y)."""

    def __init__(self, spec: CharacterSpec) -> None:
        self.width = spec.face_width
        self.jaw_taper = spec.jaw_taper
        self.chin_forward = spec.chin_forward
        self.cheek = spec.cheek

    def profile(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(half-width a, front y, back y) of the cross-section at height z."""
        z = np.asarray(z, np.float64)
        up = np.clip((z - Z_EQ) / (Z_TOP - Z_EQ), 0.0, 1.0)
        dome = np.clip(1.0 - up**DOME_EXPONENT, 0.0, 1.0) ** (1.0 / DOME_EXPONENT)
        tau = np.clip((Z_EQ - z) / (Z_EQ - Z_CHIN), 0.0, 1.0)
        chin_w = 0.32 - 0.2 * self.jaw_taper
        taper = 1.0 - (1.0 - chin_w) * tau ** (2.6 - 1.2 * self.jaw_taper)
        rounding = np.sqrt(np.clip(1.0 - tau**6, 0.0, 1.0))
        cheek = 1.0 + 0.05 * self.cheek * np.exp(-(((z - 1.43) / 0.022) ** 2))
        a = self.width * np.where(z >= Z_EQ, 1.03 * dome, taper * rounding * cheek)
        front_lower = -DEPTH * (1.0 - (1.0 - self.chin_forward) * tau**1.8)
        front = np.where(z >= Z_EQ, -DEPTH * dome, front_lower)
        back_lower = front_lower + (2.15 * DEPTH - (2.15 * DEPTH - 0.01) * tau**0.9) * rounding
        back = np.where(z >= Z_EQ, 1.15 * DEPTH * dome, back_lower)
        return a, front, back

    def point(self, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Surface points (..., 3) at heights z and angles theta (broadcast together).

        theta = 0 faces -Y (the front), pi/2 is the character's left (+X).
        """
        z, theta = np.broadcast_arrays(np.asarray(z, np.float64), np.asarray(theta, np.float64))
        a, front, back = self.profile(z)
        s, c = np.sin(theta), np.cos(theta)
        n = np.where(c >= 0, FRONT_EXPONENT, BACK_EXPONENT)
        yc, b = (front + back) / 2, (back - front) / 2
        x = a * np.sign(s) * np.abs(s) ** (2.0 / n)
        y = yc - b * np.sign(c) * np.abs(c) ** (2.0 / n)
        return np.stack([x, y, z], axis=-1)

    def normal(self, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Outward unit normals (..., 3) of the surface at (z, theta), by finite differences."""
        eps_z, eps_t = 1e-4, 1e-3
        dz = self.point(z + eps_z, theta) - self.point(z - eps_z, theta)
        dt = self.point(z, theta + eps_t) - self.point(z, theta - eps_t)
        n = np.cross(dt, dz)
        length = np.linalg.norm(n, axis=-1, keepdims=True)
        up = np.zeros_like(n)
        up[..., 2] = 1.0
        return np.where(length > 1e-12, n / np.maximum(length, 1e-12), up)

    def front_y(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """y of the front surface at face coordinates (x, z) (x clamped inside the outline)."""
        a, front, back = self.profile(z)
        yc, b = (front + back) / 2, (back - front) / 2
        r = np.clip(np.abs(x) / np.maximum(a, 1e-6), 0.0, 0.999)
        return yc - b * (1.0 - r**FRONT_EXPONENT) ** (1.0 / FRONT_EXPONENT)

    def project(self, x: np.ndarray, z: np.ndarray, lift: float | np.ndarray) -> np.ndarray:
        """Points (N, 3) on the front surface at (x, z), pushed ``lift`` metres along its normal."""
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        eps = 1e-4
        y = self.front_y(x, z)
        dx = (self.front_y(x + eps, z) - self.front_y(x - eps, z)) / (2 * eps)
        dz = (self.front_y(x, z + eps) - self.front_y(x, z - eps)) / (2 * eps)
        normal = np.stack([dx, -np.ones_like(dx), dz], axis=-1)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        base = np.stack([x, y, z], axis=-1)
        return base + normal * np.asarray(lift)[..., None]

    def inside(self, points: np.ndarray) -> np.ndarray:
        """Whether points (..., 3) are inside the head."""
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        a, front, back = self.profile(z)
        yc, b = (front + back) / 2, np.maximum((back - front) / 2, 1e-9)
        n = np.where(y < yc, FRONT_EXPONENT, BACK_EXPONENT)
        value = np.abs(x / np.maximum(a, 1e-9)) ** n + np.abs((y - yc) / b) ** n
        return (value < 1.0) & (z > Z_CHIN) & (z < Z_TOP)

    def along_rays(self, origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Where rays from ``origin`` (inside the head) along unit ``directions`` leave it."""
        low = np.zeros(directions.shape[:-1])
        high = np.full(directions.shape[:-1], 0.3)
        for _ in range(32):
            mid = (low + high) / 2
            inside = self.inside(origin + directions * mid[..., None])
            low, high = np.where(inside, mid, low), np.where(inside, high, mid)
        return origin + directions * low[..., None]

    def theta_of(self, points: np.ndarray) -> np.ndarray:
        """The surface angle theta of points (..., 3) on (or near) the surface."""
        x, y, z = points[..., 0], points[..., 1], points[..., 2]
        a, front, back = self.profile(z)
        yc, b = (front + back) / 2, np.maximum((back - front) / 2, 1e-9)
        u, w = x / np.maximum(a, 1e-9), (yc - y) / b
        n = np.where(w >= 0, FRONT_EXPONENT, BACK_EXPONENT)
        s = np.sign(u) * np.abs(u) ** (n / 2)
        c = np.sign(w) * np.abs(w) ** (n / 2)
        return np.arctan2(s, c)

    def shell(self, z: np.ndarray, theta: np.ndarray, lift: float | np.ndarray) -> np.ndarray:
        """Points ``lift`` metres outside the surface at (z, theta); below the eye line the
        points hang straight down from the eye-line cross-section (like hair does)."""
        z, theta = np.broadcast_arrays(np.asarray(z, np.float64), np.asarray(theta, np.float64))
        zs = np.maximum(z, Z_EQ)
        points = self.point(zs, theta) + self.normal(zs, theta) * np.asarray(lift)[..., None]
        points[..., 2] += z - zs
        return points
