"""Source morphs of a loaded model and how target-morph values drive them (bpy-side).

A *source morph* is a name a model offers: a shape key (looked up on every mesh, since real models
often split the face over meshes that share shape-key names) or an expression group such as a VRM
blend-shape group, which binds several shape keys with weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import bpy

from ..annotation import Annotation

Binds = list[tuple[bpy.types.ShapeKey, float]]


def shape_key_morphs(meshes: list[bpy.types.Object]) -> dict[str, Binds]:
    """Every non-reference shape key of ``meshes`` as a source morph, in model order."""
    morphs: dict[str, Binds] = {}
    for obj in meshes:
        keys = obj.data.shape_keys
        if keys is None:
            continue
        for block in keys.key_blocks:
            if block != keys.reference_key:
                morphs.setdefault(block.name, []).append((block, 1.0))
    return morphs


class MorphSetter:
    """Sets morph values through the shape keys bound to each key: target morphs through the
    source morphs an annotation chose (``for_annotation``), or source morphs by their own names
    (``MorphSetter(source_morphs)``, to show each morph alone); keys without binds are left
    out."""

    def __init__(self, binds: Mapping[str, Binds]) -> None:
        self.binds: dict[str, Binds] = {key: list(b) for key, b in binds.items() if b}
        self.active: set[bpy.types.ShapeKey] = set()

    @classmethod
    def for_annotation(
        cls, source_morphs: Mapping[str, Binds], annotation: Annotation
    ) -> MorphSetter:
        return cls(
            {target: source_morphs.get(name, []) for target, name in annotation.targets.items()}
        )

    @property
    def available(self) -> list[str]:
        return sorted(self.binds)

    def apply(self, morphs: Mapping[str, float]) -> None:
        values: dict[bpy.types.ShapeKey, float] = dict.fromkeys(self.active, 0.0)
        for target, value in morphs.items():
            for block, weight in self.binds[target]:
                values[block] = min(1.0, values.get(block, 0.0) + value * weight)
        for block, value in values.items():
            block.value = value
        self.active = {block for block, value in values.items() if value}
