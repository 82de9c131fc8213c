"""What a VRM file says about its rig, read from its glTF JSON (no bpy).

A VRM is a binary glTF whose ``VRM`` (0.x) or ``VRMC_vrm`` (1.0) extension names the humanoid's
bones (node indices) and the expressions: each a name, whether it is one of the specification's
presets (``blink``, ``aa`` ...; a 0.x group whose ``presetName`` is not ``unknown``) and its
morph-target binds. The Blender side imports the geometry with Blender's own glTF importer and
applies this; the VRM add-on's import, which also builds its editors (humanoid bone lists, MToon
node trees), cost about 3 s a model, more than rendering 50 images of it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VRM0_SCALE = 100.0  # VRM 0.x bind weights are 0-100; VRM 1.0's and Blender's 0-1


@dataclass(frozen=True)
class VrmBind:
    """One morph target an expression sets: glTF mesh ``mesh`` (index), its target ``morph``
    (index), at ``weight`` (0-1) when the expression is at 1."""

    mesh: int
    morph: int
    weight: float


@dataclass(frozen=True)
class VrmExpression:
    name: str
    preset: bool
    binds: tuple[VrmBind, ...]


@dataclass(frozen=True)
class VrmRig:
    """``spec``: "0.x" or "1.0"; ``head``/``neck``: the humanoid's node names (None when the
    humanoid does not name one); ``mesh_names``: the glTF meshes' names by index, as Blender's
    importer names them; ``morph_names``: each mesh's morph target names (VRM 0.x keeps them in
    its primitives' extras, where Blender's importer does not look; empty when unnamed);
    ``expressions`` in file order."""

    spec: str
    head: str | None
    neck: str | None
    mesh_names: tuple[str, ...]
    morph_names: tuple[tuple[str, ...], ...]
    expressions: tuple[VrmExpression, ...]


def gltf_json(path: str | Path) -> dict[str, Any]:
    """The JSON chunk of a binary glTF/VRM file; ``ValueError`` (one line) when it has none."""
    with open(path, "rb") as handle:
        header = handle.read(20)
        if len(header) < 20 or header[:4] != b"glTF":
            raise ValueError(f"{path}: not a binary glTF/VRM file (bad header)")
        (length, chunk_type) = struct.unpack("<I4s", header[12:20])
        if chunk_type != b"JSON":
            raise ValueError(f"{path}: first glTF chunk is not JSON")
        try:
            document = json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: unreadable glTF JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the glTF JSON is not an object")
    return document


def read_vrm(path: str | Path) -> VrmRig:
    """The humanoid's head and neck and the expressions of a VRM 0.x or 1.0 file."""
    document = gltf_json(path)
    extensions = document.get("extensions") or {}
    nodes = document.get("nodes") or []
    meshes = document.get("meshes") or []
    mesh_names = tuple(m.get("name") or f"Mesh_{i}" for i, m in enumerate(meshes))
    morph_names = tuple(_target_names(mesh) for mesh in meshes)
    if "VRMC_vrm" not in extensions and "VRM" not in extensions:
        raise ValueError(f"{path}: no VRM or VRMC_vrm extension: a glTF file (rename it .glb)")
    try:
        if "VRMC_vrm" in extensions:
            spec, (bones, expressions) = "1.0", _vrm1(extensions["VRMC_vrm"], nodes)
        else:
            spec, (bones, expressions) = "0.x", _vrm0(extensions["VRM"])
        head, neck = (_node_name(nodes, bones.get(bone)) for bone in ("head", "neck"))
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"{path}: unreadable VRM extension ({error})") from None
    return VrmRig(spec, head, neck, mesh_names, morph_names, tuple(expressions))


def _target_names(mesh: dict) -> tuple[str, ...]:
    """A glTF mesh's morph target names: its extras' ``targetNames``, else its first
    primitive's (VRM 0.x), else none."""
    for holder in (mesh, *(mesh.get("primitives") or [])[:1]):
        names = (holder.get("extras") or {}).get("targetNames")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return tuple(names)
    return ()


def _node_name(nodes: list[dict], index: int | None) -> str | None:
    """The name Blender's glTF importer gives node ``index`` (``Node_<i>`` when it has none)."""
    if index is None:
        return None
    return nodes[index].get("name") or f"Node_{index}"


def _vrm0(extension: dict) -> tuple[dict[str, int], list[VrmExpression]]:
    humanoid = extension.get("humanoid") or {}
    bones = {b["bone"]: b["node"] for b in humanoid.get("humanBones") or [] if "node" in b}
    groups = (extension.get("blendShapeMaster") or {}).get("blendShapeGroups") or []
    expressions = []
    for group in groups:
        preset = (group.get("presetName") or "unknown").lower()
        is_preset = preset != "unknown"
        binds = tuple(
            VrmBind(int(b["mesh"]), int(b["index"]), float(b.get("weight", 100)) / VRM0_SCALE)
            for b in group.get("binds") or []
        )
        expressions.append(VrmExpression(preset if is_preset else group["name"], is_preset, binds))
    return bones, expressions


def _vrm1(extension: dict, nodes: list[dict]) -> tuple[dict[str, int], list[VrmExpression]]:
    human_bones = (extension.get("humanoid") or {}).get("humanBones") or {}
    bones = {name: bone["node"] for name, bone in human_bones.items() if "node" in bone}
    expressions = []
    for group, is_preset in (("preset", True), ("custom", False)):
        for name, expression in ((extension.get("expressions") or {}).get(group) or {}).items():
            binds = tuple(
                VrmBind(int(nodes[b["node"]]["mesh"]), int(b["index"]), float(b.get("weight", 1)))
                for b in expression.get("morphTargetBinds") or []
            )
            expressions.append(VrmExpression(name, is_preset, binds))
    return bones, expressions
