"""Neck (skin, weighted to the neck bone); shoulders with a collar and, on a posed body, arms
(cloth, chest bone)."""

from __future__ import annotations

import numpy as np

from .meshdata import Part, grid_faces, make_part, sweep
from .spec import COLLAR_Z, CharacterSpec
from .surface import face_uv

NECK_BOTTOM = 1.27
NECK_TOP = 1.47
NECK_Y = 0.014
NECK_RADIUS = (0.025, 0.024)

# shoulders: rings (z, half-width, half-depth), top (collar) to bottom
SHOULDER_RINGS = np.array(
    [
        [1.318, 0.031, 0.03],
        [1.305, 0.058, 0.045],
        [1.29, 0.105, 0.062],
        [1.265, 0.140, 0.072],
        [1.23, 0.158, 0.078],
        [1.17, 0.165, 0.08],
        [1.08, 0.165, 0.08],
    ]
)


def neck() -> Part:
    """The neck: a vertical tube from inside the collar up into the head."""
    z = np.linspace(NECK_BOTTOM, NECK_TOP, 8)
    path = np.stack([np.zeros(8), np.full(8, NECK_Y), z], -1)
    verts, quads, _ = sweep(
        path,
        np.array([0.0, -1.0, 0.0]),
        np.full(8, NECK_RADIUS[0]),
        np.full(8, NECK_RADIUS[1]),
        ring=24,
    )
    uv = face_uv(verts)
    uv[:, 1] = np.minimum(uv[:, 1], -0.03)  # the skin look shades the neck below the chin
    return make_part("skin", verts, [quads], uv, True)


def shoulders() -> Part:
    """Shoulders and upper chest (open at the bottom, out of frame)."""
    segments = 48
    theta = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    s, c = np.sin(theta), np.cos(theta)
    exponent = 2.6
    sx = np.sign(s) * np.abs(s) ** (2 / exponent)
    cy = np.sign(c) * np.abs(c) ** (2 / exponent)
    z, hw, hd = (SHOULDER_RINGS[:, i, None] for i in range(3))
    verts = np.stack([hw * sx, NECK_Y - hd * cy, np.broadcast_to(z, (len(z), segments))], -1)
    faces = grid_faces(len(SHOULDER_RINGS), segments, closed=True)[:, ::-1]  # outward
    return make_part("cloth", verts.reshape(-1, 3), [faces], np.zeros((verts.size // 3, 2)), True)


ARM_ROOT = (0.13, 1.245)  # (x, z) of the right arm's root inside the shoulders
ARM_LENGTH = 0.55  # reaches past the frame's side edges
ARM_RADIUS = (0.042, 0.036)  # sleeve half-width at the root, at the end


def arms(spec: CharacterSpec) -> list[Part]:
    """Two sleeves from the shoulders, ``spec.arm_drop`` below horizontal (none for "down")."""
    if spec.arms == "down":
        return []
    parts = []
    for side in (-1.0, 1.0):
        direction = np.array([side * np.cos(spec.arm_drop), 0.0, -np.sin(spec.arm_drop)])
        root = np.array([side * ARM_ROOT[0], NECK_Y, ARM_ROOT[1]])
        path = root + np.linspace(0.0, ARM_LENGTH, 10)[:, None] * direction
        radius = np.linspace(*ARM_RADIUS, 10)
        verts, quads, uv = sweep(path, np.array([0.0, -1.0, 0.0]), radius, radius, ring=16)
        parts.append(make_part("cloth", verts, [quads], uv, True))
    return parts


def place_body(spec: CharacterSpec, parts: list[Part]) -> list[Part]:
    """Scale ``parts`` (shoulders, collar, arms) by ``spec.body_scale`` about the collar and
    lift them so the collar sits at ``spec.collar_z`` (the identity for a "shoulders" body)."""
    base = np.array([0.0, NECK_Y, COLLAR_Z])
    top = np.array([0.0, NECK_Y, spec.collar_z])
    for part in parts:
        part.verts = top + spec.body_scale * (part.verts - base)
    return parts


def collar() -> Part:
    """A rolled collar around the neck opening."""
    angle = np.linspace(0.0, 2 * np.pi, 33)
    path = np.stack([0.033 * np.sin(angle), NECK_Y - 0.031 * np.cos(angle), np.full(33, 1.316)], -1)
    verts, quads, uv = sweep(
        path, np.array([0.0, 0.0, 1.0]), np.full(33, 0.005), np.full(33, 0.006), ring=8
    )
    return make_part("cloth", verts, [quads], uv, True)
