"""Set target-morph values on a model's shape keys (bpy-side)."""

from __future__ import annotations

from collections.abc import Mapping

import bpy

from .annotation import Annotation


class MorphSetter:
    """Drives a model's source shape keys from target-morph values.

    A target's source name is looked up on every mesh of the model (real models often split the
    face over several meshes that share shape-key names).
    """

    def __init__(self, meshes: list[bpy.types.Object], annotation: Annotation) -> None:
        self.keys: dict[str, list[bpy.types.ShapeKey]] = {}
        for target, source_name in annotation.targets.items():
            blocks = [
                obj.data.shape_keys.key_blocks[source_name]
                for obj in meshes
                if obj.data.shape_keys and source_name in obj.data.shape_keys.key_blocks
            ]
            if blocks:
                self.keys[target] = blocks
        self.active: list[bpy.types.ShapeKey] = []

    @property
    def available(self) -> list[str]:
        return sorted(self.keys)

    def apply(self, morphs: Mapping[str, float]) -> None:
        for block in self.active:
            block.value = 0.0
        self.active = []
        for target, value in morphs.items():
            for block in self.keys[target]:
                block.value = value
                self.active.append(block)
