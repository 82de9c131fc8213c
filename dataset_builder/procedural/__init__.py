"""Procedural anime heads: a seeded identity (``CharacterSpec``) built into a Blender scene.

Importing this package does not import ``bpy``: ``build_character`` and ``save_character`` import
their Blender-side modules when called, inside a Blender process.

Conventions: Z up, metres, the character faces -Y and its left is +X; the head spans
z = 1.375 .. 1.625 (centre 1.5). Bones ``chest`` -> ``neck`` -> ``head`` all point +Z (roll 0).
"""

from __future__ import annotations

import os

from .model import BuiltCharacter
from .spec import CharacterSpec, character_spec, procedural_model_id


def build_character(spec: CharacterSpec) -> BuiltCharacter:
    """Build the character into the current (empty) Blender scene; call inside Blender."""
    from .build import build_character as build

    return build(spec)


def save_character(built: BuiltCharacter, path: str | os.PathLike) -> None:
    """Save the current scene's character as .blend or .glb; call inside Blender."""
    from .export import save_character as save

    save(built, path)


__all__ = [
    "BuiltCharacter",
    "CharacterSpec",
    "build_character",
    "character_spec",
    "procedural_model_id",
    "save_character",
]
