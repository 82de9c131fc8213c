"""Numpy mesh data to Blender mesh objects, fast (``foreach_set``; bpy side)."""

from __future__ import annotations

import bpy
import numpy as np

from .meshdata import MeshData


def mesh_object(
    name: str, data: MeshData, materials: dict[str, bpy.types.Material]
) -> bpy.types.Object:
    """A mesh object linked to the current scene, with UVs, smooth flags and material slots."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(data.verts))
    mesh.vertices.foreach_set("co", data.verts.astype(np.float32).ravel())
    mesh.loops.add(len(data.loops))
    mesh.loops.foreach_set("vertex_index", data.loops)
    mesh.polygons.add(len(data.sizes))
    mesh.polygons.foreach_set("loop_start", (np.cumsum(data.sizes) - data.sizes).astype(np.int32))
    mesh.polygons.foreach_set("material_index", data.material_index.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", data.smooth.astype(bool))
    mesh.update(calc_edges=True)
    uv = mesh.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", data.uv[data.loops].astype(np.float32).ravel())
    for role in data.roles:
        mesh.materials.append(materials[role])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def add_shape_keys(obj: bpy.types.Object, keys: list[tuple[str, np.ndarray]]) -> list[str]:
    """Add "Basis" and one shape key per (name, vertices); returns the names as stored."""
    obj.shape_key_add(name="Basis", from_mix=False)
    names = []
    for name, verts in keys:
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", verts.astype(np.float32).ravel())
        block.value = 0.0  # new keys start at 1.0 in Blender 5
        names.append(block.name)
    return names
