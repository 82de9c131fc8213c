"""Save a built character as .blend or .glb (bpy side), via a temporary name and a rename."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from .model import BuiltCharacter


def save_character(built: BuiltCharacter, path: str | os.PathLike) -> None:
    """Write the scene's character to ``path`` (.blend, or .glb with shape keys and skin)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix == ".blend":
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
    elif path.suffix == ".glb":
        bpy.ops.export_scene.gltf(
            filepath=str(tmp),
            export_format="GLB",
            use_selection=False,
            export_apply=False,
            export_skins=True,
            export_morph=True,
            export_morph_normal=False,
            export_animations=False,
        )
    else:
        raise ValueError(f"{path}: expected a .blend or .glb file name")
    os.replace(tmp, path)
