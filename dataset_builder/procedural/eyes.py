"""Anime eyes as 2D layers projected onto the face (sclera, iris, pupil, highlights, lashes).

Each eye has a local frame: u in [-1, 1] from the inner to the outer corner, v in metres up.
The lids are curves ``upper(u)`` and ``lower(u)``. An ``EyeState`` replaces them (closing, the
"^" arc, half-closing) and moves the iris; every layer is rebuilt with the same topology, so a
morph is the difference between two states. Iris, pupil and highlight vertices are clamped
between the state's lids, so a lowered lid hides the iris and a closed eye shows only its lash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .meshdata import Part, flipped, grid_faces, make_part
from .spec import CharacterSpec
from .surface import HeadShape

LIFT = {"eye_white": 0.0004, "iris": 0.0008, "pupil": 0.0012, "highlight": 0.0016, "line": 0.002}
U_SAMPLES = 25


@dataclass(frozen=True)
class EyeState:
    """What a morph does to one eye: lid shape and iris changes (rest = defaults)."""

    lids: str = "rest"  # rest | close | happy | relaxed
    iris_scale: float = 1.0
    iris_shift: float = 0.0  # in units of the eye height
    highlight_scale: float = 1.0


class Eye:
    """One eye of a character; ``side`` is +1 for the character's left (+X), -1 for the right."""

    def __init__(self, spec: CharacterSpec, head: HeadShape, side: int) -> None:
        self.spec, self.head, self.side = spec, head, side
        self.half_w = spec.eye_width / 2
        self.h_up = spec.eye_top - spec.eye_z
        self.h_lo = spec.eye_height - self.h_up
        self.centre = np.array([side * spec.eye_spacing, spec.eye_z])
        self.cos_t, self.sin_t = np.cos(spec.eye_tilt), np.sin(spec.eye_tilt)

    # --- lids -------------------------------------------------------------------------------
    def upper(self, u: np.ndarray) -> np.ndarray:
        """Rest upper lid height at u (peak slightly toward the inner corner)."""
        base = np.clip(1.0 - u**2, 0.0, 1.0) ** self.spec.eye_roundness
        return self.h_up * base * (1.0 - 0.12 * u)

    def lower(self, u: np.ndarray) -> np.ndarray:
        """Rest lower lid height at u."""
        return -self.h_lo * np.clip(1.0 - u**2, 0.0, 1.0) ** (self.spec.eye_roundness * 1.3)

    def lids(self, state: EyeState, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(upper, lower) lid heights of ``state`` at u."""
        up, lo = self.upper(u), self.lower(u)
        height = self.h_up + self.h_lo
        bump = np.clip(1.0 - u**2, 0.0, 1.0)
        if state.lids == "close":
            line = 0.72 * lo + 0.28 * up - 0.04 * height * bump
            return line, line
        if state.lids == "happy":
            arch = -0.12 * height + 0.42 * height * bump**0.8
            return arch, arch
        if state.lids == "relaxed":
            level = -self.h_lo + 0.5 * height
            return np.maximum(lo, np.minimum(up, level + 0.05 * height * bump)), lo
        return up, lo

    # --- frame ------------------------------------------------------------------------------
    def to_face(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local (u, v) to face coordinates (x, z)."""
        lx = u * self.half_w
        x = self.centre[0] + self.side * (lx * self.cos_t - v * self.sin_t)
        z = self.centre[1] + lx * self.sin_t + v * self.cos_t
        return x, z

    def _place(self, role: str, u: np.ndarray, v: np.ndarray, extra: float = 0.0) -> np.ndarray:
        x, z = self.to_face(u, v)
        return self.head.project(x.ravel(), z.ravel(), LIFT[role] + extra)

    # --- layers -----------------------------------------------------------------------------
    def _clamped_disc(
        self,
        state: EyeState,
        role: str,
        centre: tuple[float, float],
        radii: tuple[float, float],
        rings: int,
        segments: int,
    ) -> Part:
        """A polar-grid ellipse in local coordinates, clamped between the state's lids."""
        rho = np.linspace(0.0, 1.0, rings + 1)[1:]
        angle = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
        u = np.concatenate(
            [[centre[0]], (centre[0] + radii[0] * np.outer(rho, np.cos(angle))).ravel()]
        )
        v = np.concatenate(
            [[centre[1]], (centre[1] + radii[1] * np.outer(rho, np.sin(angle))).ravel()]
        )
        uv = np.stack(
            [
                0.5 + 0.5 * (u - centre[0]) / max(radii[0], 1e-9),
                0.5 + 0.5 * (v - centre[1]) / max(radii[1], 1e-9),
            ],
            axis=-1,
        )
        u = np.clip(u, -0.97, 0.97)
        up, lo = self.lids(state, u)
        rest_up, rest_lo = self.lids(EyeState(), u)
        v = np.clip(np.clip(v, rest_lo, rest_up), lo, up)
        fan = np.stack(
            [
                np.zeros(segments, int),
                1 + np.arange(segments),
                1 + (np.arange(segments) + 1) % segments,
            ],
            -1,
        )
        quads = 1 + grid_faces(rings, segments, closed=True)[:, ::-1]
        return make_part(role, self._place(role, u, v), [quads, fan], uv)

    def _sclera(self, state: EyeState) -> Part:
        rows = 14
        u = np.linspace(-1.0, 1.0, U_SAMPLES)
        up, lo = self.lids(state, u)
        t = np.linspace(0.0, 1.0, rows)[:, None]
        v = lo[None, :] + t * (up - lo)[None, :]
        uu = np.broadcast_to(u[None, :], v.shape)
        uv = np.stack([0.5 + 0.5 * uu, np.broadcast_to(t, v.shape)], -1).reshape(-1, 2)
        return make_part(
            "eye_white", self._place("eye_white", uu, v), [grid_faces(rows, U_SAMPLES)], uv
        )

    def _ribbon(
        self,
        role: str,
        u: np.ndarray,
        centre_v: np.ndarray,
        below: np.ndarray,
        above: np.ndarray,
        lift: float = 0.0,
    ) -> Part:
        """A two-row strip along a curve: from ``centre_v - below`` to ``centre_v + above``."""
        v = np.stack([centre_v - below, centre_v + above])
        uu = np.broadcast_to(u[None, :], v.shape)
        uv = np.stack([0.5 + 0.5 * uu, np.broadcast_to(np.array([[0.0], [1.0]]), v.shape)], -1)
        verts = self._place(role, uu, v, lift)
        return make_part(role, verts, [grid_faces(2, len(u))], uv.reshape(-1, 2))

    def _upper_lash(self, state: EyeState) -> Part:
        u = np.linspace(-1.04, 1.2, 30)
        uc = np.clip(u, -1.0, 1.0)
        up, _ = self.lids(state, uc)
        thick = self.spec.lash_thickness
        rise = np.clip(u - 0.85, 0.0, None)  # the outer wing sweeps up and out
        profile = 0.6 + 0.7 * np.clip((u + 0.5) / 1.2, 0.0, 1.0)
        taper = np.clip((1.2 - u) / 0.3, 0.0, 1.0) * np.clip((u + 1.04) / 0.12, 0.25, 1.0)
        centre = up + rise * 0.9 * self.h_up
        return self._ribbon(
            "line", u, centre, 0.3 * thick * profile * taper, 0.7 * thick * profile * taper
        )

    def _lower_lash(self, state: EyeState) -> Part:
        u = np.linspace(0.15, 1.0, 12)
        _, lo = self.lids(state, u)
        thick = 0.35 * self.spec.lash_thickness * np.sin(np.linspace(0.0, np.pi, 12)) ** 0.5
        return self._ribbon("line", u, lo, 0.6 * thick, 0.4 * thick)

    def _crease(self, state: EyeState) -> Part:
        """A thin eyelid crease above the upper lid; it sinks onto the lash as the eye closes."""
        u = np.linspace(-0.5, 0.8, 14)
        up, lo = self.lids(state, u)
        rest_up, rest_lo = self.lids(EyeState(), u)
        openness = (up - lo) / np.maximum(rest_up - rest_lo, 1e-9)
        centre = up + (0.2 * self.h_up + 0.3 * self.spec.lash_thickness) * openness
        thick = 0.0009 * np.sin(np.linspace(0.0, np.pi, 14)) ** 0.6
        return self._ribbon("line", u, centre, 0.5 * thick, 0.5 * thick, lift=-0.0002)

    def parts(self, state: EyeState) -> list[Part]:
        """All layers of this eye in ``state`` (constant topology for every state)."""
        height = self.h_up + self.h_lo
        iris_u = self.spec.iris_size * state.iris_scale
        iris_v = iris_u * self.half_w * 1.4
        iris_c = (0.0, 0.09 * height + state.iris_shift * height)
        pupil = (iris_c[0], iris_c[1] - 0.05 * height)
        glint_c = (iris_c[0] - self.side * 0.38 * iris_u, iris_c[1] + 0.42 * iris_v)
        glint = 0.3 * iris_u * state.highlight_scale
        glint2_c = (iris_c[0] + self.side * 0.35 * iris_u, iris_c[1] - 0.45 * iris_v)
        parts = [
            self._sclera(state),
            self._clamped_disc(state, "iris", iris_c, (iris_u, iris_v), 8, 32),
            self._clamped_disc(state, "pupil", pupil, (0.45 * iris_u, 0.5 * iris_v), 3, 20),
            self._clamped_disc(state, "highlight", glint_c, (glint, glint * self.half_w), 2, 14),
        ]
        if self.spec.highlights >= 2:
            small = 0.14 * iris_u * state.highlight_scale
            parts.append(
                self._clamped_disc(
                    state, "highlight", glint2_c, (small, small * self.half_w), 1, 10
                )
            )
        parts.append(self._upper_lash(state))
        if self.spec.lower_lash:
            parts.append(self._lower_lash(state))
        if self.spec.eyelid_crease:
            parts.append(self._crease(state))
        return parts if self.side > 0 else [flipped(p) for p in parts]  # all facing -Y
