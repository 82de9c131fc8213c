"""Procedural anime heads as plain data: a seeded identity (``CharacterSpec``) and its meshes, bone
weights and face shape keys (numpy only). ``dataset_builder.blender.procedural`` builds them into a
Blender scene and ``dataset_builder.blender.export`` saves them as .blend or .glb.

Conventions: Z up, metres, the character faces -Y and its left is +X; the head spans
z = 1.375 .. 1.625 (centre 1.5). Bones ``chest`` -> ``neck`` -> ``head`` all point +Z (roll 0).
"""

from __future__ import annotations

from .model import BuiltCharacter
from .spec import CharacterSpec, character_spec, procedural_model_id

__all__ = ["BuiltCharacter", "CharacterSpec", "character_spec", "procedural_model_id"]
