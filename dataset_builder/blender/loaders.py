"""Load a model into the current Blender scene (bpy-side).

One loader per source kind; each returns a ``LoadedModel`` naming the armature, the bone that
turns the head (the neck, as in the paper), the bones whose vertices frame the camera, the meshes
and the shape-key names in model order; a VRM also names its expression presets, which the
annotation ranks ahead of shape-key names.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import addon_utils
import bpy
from mathutils import Matrix

from ..rigs import find_head_and_neck
from ..sources import ModelSource, check_binary_gltf, fbx_problem
from ..vrm import VrmExpression, VrmRig, read_vrm
from .morphs import Binds, shape_key_morphs
from .scene import bone_and_descendants

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    armature: bpy.types.Object
    rotate_bone: str
    frame_bones: list[str]
    meshes: list[bpy.types.Object]
    source_morphs: dict[str, Binds]  # source morph name -> shape keys and weights, model order
    frame_meshes: list[bpy.types.Object] | None = None  # meshes to frame on (default: all)
    presets: frozenset[str] = frozenset()  # source morphs that are the format's expression presets


def load_procedural(source: ModelSource) -> LoadedModel:
    from ..procedural import character_spec
    from .procedural import build_character

    built = build_character(character_spec(source.seed, source.procedural_body))
    armature = bpy.data.objects[built.armature_name]
    meshes = [bpy.data.objects[name] for name in built.mesh_names]
    return LoadedModel(
        armature=armature,
        rotate_bone=built.neck_bone,
        frame_bones=bone_and_descendants(armature, built.head_bone),
        meshes=meshes,
        source_morphs=shape_key_morphs(meshes),
        # A "shoulders" body frames on the face, so long hair and twin tails do not shrink the
        # head in the image; a posed body frames as model files do (on everything the head moves:
        # face, hair, accessories), so its hair decides how much body shows below the chin.
        frame_meshes=[bpy.data.objects[built.face_mesh_name]]
        if source.procedural_body == "shoulders"
        else None,
    )


def load_vrm(source: ModelSource) -> LoadedModel:
    """A VRM 0.x/1.0 file (a binary glTF) through Blender's glTF importer, with the humanoid's
    head and neck and the expressions (``blink``, ``a`` ...: weighted binds of shape keys) read
    from its VRM extension (``dataset_builder.vrm``). A VRM 0.x model faces glTF's -Z, so it is
    turned to face the camera as VRM 1.0 and glTF models do. Its materials are the glTF
    materials every VRM carries beside MToon (the base colour texture, unlit)."""
    check_binary_gltf(source.path)  # a truncated file gets one line, not an importer traceback
    rig = read_vrm(source.path)
    bpy.ops.import_scene.gltf(filepath=source.path)
    _name_shape_keys(rig)
    model = _rigged_model(source, humanoid=(rig.head, rig.neck))
    if rig.spec == "0.x":  # turned about the vertical: the head and neck found stay the same
        model.armature.matrix_world = Matrix.Rotation(math.pi, 4, "Z") @ model.armature.matrix_world
        bpy.context.view_layer.update()
    presets = set()
    for expression in rig.expressions:
        binds, missing = _expression_binds(expression, rig.mesh_names, model.meshes)
        if missing:
            logger.warning(
                "%s: VRM expression %r binds %s, which the file does not have; left out",
                source.path,
                expression.name,
                ", ".join(missing),
            )
        if binds and (expression.preset or expression.name not in model.source_morphs):
            model.source_morphs[expression.name] = binds  # a preset wins over a same-named key
            if expression.preset:
                presets.add(expression.name)
    model.presets = frozenset(presets)
    return model


def _name_shape_keys(rig: VrmRig) -> None:
    """Give the imported shape keys the file's morph target names (by position after the
    basis) where Blender's importer could not find them."""
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH" or obj.data.shape_keys is None:
            continue
        for mesh_name, names in zip(rig.mesh_names, rig.morph_names, strict=True):
            if obj.data.name == mesh_name:
                for block, name in zip(obj.data.shape_keys.key_blocks[1:], names, strict=False):
                    block.name = name


def _expression_binds(
    expression: VrmExpression, mesh_names: tuple[str, ...], meshes: list[bpy.types.Object]
) -> tuple[Binds, list[str]]:
    """The shape keys (and weights) an expression sets, and its binds that point at nothing
    (described). glTF mesh ``i`` is every mesh object whose data Blender's importer named
    ``mesh_names[i]``, its morph target ``j`` the shape key after the basis at position ``j``."""
    binds, missing = [], []
    for bind in expression.binds:
        found = [
            (keys.key_blocks[bind.morph + 1], bind.weight)
            for obj in meshes
            if bind.mesh < len(mesh_names)
            and obj.data.name == mesh_names[bind.mesh]
            and (keys := obj.data.shape_keys) is not None
            and bind.morph + 1 < len(keys.key_blocks)
        ]
        binds += found
        if not found:
            missing.append(f"morph target {bind.morph} of mesh {bind.mesh}")
    return binds, missing


def load_gltf(source: ModelSource) -> LoadedModel:
    """A glTF/GLB file through Blender's importer; head and neck bones found by name, else from
    the skeleton's structure (:func:`dataset_builder.rigs.find_head_and_neck`)."""
    bpy.ops.import_scene.gltf(filepath=source.path)
    return _rigged_model(source)


def load_fbx(source: ModelSource) -> LoadedModel:
    """An FBX file (what most characters for Unity ship as) through Blender's bundled importer;
    textures are looked up beside the file; head and neck bones found as for glTF."""
    addon_utils.enable("io_scene_fbx", default_set=True)
    try:
        bpy.ops.import_scene.fbx(filepath=source.path, use_image_search=True)
    except RuntimeError as error:  # the importer's own words, unless the bytes say more
        raise ValueError(fbx_problem(source.path) or str(error)) from None
    return _rigged_model(source)


def load_blend(source: ModelSource) -> LoadedModel:
    """Objects appended from a .blend file (the file is never opened, so its scripts never run)."""
    with bpy.data.libraries.load(source.path, link=False) as (data_from, data_to):
        data_to.objects = list(data_from.objects)
    collection = bpy.context.scene.collection
    for obj in data_to.objects:
        if obj is not None:
            collection.objects.link(obj)
    return _rigged_model(source)


def _rigged_model(
    source: ModelSource, humanoid: tuple[str | None, str | None] = (None, None)
) -> LoadedModel:
    """The scene's one armature, its head and neck (the ``humanoid``'s when the file names
    them and they are bones, else found by name or structure) and its meshes."""
    armature = _only_armature()
    bones = {bone.name: bone.parent.name if bone.parent else None for bone in armature.data.bones}
    positions = {}  # rest positions, for when no name matches
    for bone in armature.data.bones:
        x, y, z = armature.matrix_world @ bone.head_local
        positions[bone.name] = (x, y, z)
    head, neck = humanoid
    if head in bones:
        found = head, neck if neck in bones else bones[head] or head
    else:
        found = find_head_and_neck(bones, positions)
    if found is None:
        names = ", ".join(sorted(bones)[:12]) + (", ..." if len(bones) > 12 else "")
        raise ValueError(
            f"no head bone: none of the {len(bones)} bones ({names}) is named as a head "
            "(Head, J_Bip_C_Head, mixamorig:Head, 頭, spine.006 ...), nor does the skeleton's "
            "structure give one (mirrored arms with a neck and head rising between them); "
            "rename the head bone to Head"
        )
    head, neck = found
    meshes = _meshes_of(armature)
    return LoadedModel(
        armature, neck, bone_and_descendants(armature, head), meshes, shape_key_morphs(meshes)
    )


def _only_armature() -> bpy.types.Object:
    armatures = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if not armatures:
        raise ValueError(
            "no armature: the file holds no skeleton; a character needs one with a head bone "
            "(rig it, e.g. with Rigify or Mixamo, and export it with its armature)"
        )
    if len(armatures) > 1:
        names = ", ".join(sorted(a.name for a in armatures))
        raise ValueError(f"{len(armatures)} armatures ({names}): expected one character a file")
    armature = armatures[0]
    to_rest_pose(armature)
    return armature


def to_rest_pose(armature: bpy.types.Object) -> None:
    """Bring an imported rig to its rest pose: an animation that came with it (active action,
    NLA tracks, drivers) is detached or muted, bone constraints are muted, and every pose bone's
    transform is reset (detaching an action leaves its last evaluated frame on the bones)."""
    data = armature.animation_data
    if data is not None:
        data.action = None
        for track in data.nla_tracks:
            track.mute = True
        for driver in list(data.drivers):
            data.drivers.remove(driver)
    for bone in armature.pose.bones:
        for constraint in bone.constraints:
            constraint.mute = True
        bone.location = (0.0, 0.0, 0.0)
        bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        bone.rotation_euler = (0.0, 0.0, 0.0)
        bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
        bone.scale = (1.0, 1.0, 1.0)
    bpy.context.view_layer.update()


def _meshes_of(armature: bpy.types.Object) -> list[bpy.types.Object]:
    """Mesh objects deformed by or parented to ``armature``."""
    return [
        obj
        for obj in bpy.context.scene.objects
        if obj.type == "MESH"
        and (
            obj.parent == armature
            or any(m.type == "ARMATURE" and m.object == armature for m in obj.modifiers)
        )
    ]


LOADERS = {
    "procedural": load_procedural,
    "vrm": load_vrm,
    "gltf": load_gltf,
    "fbx": load_fbx,
    "blend": load_blend,
}


def load_model(source: ModelSource) -> LoadedModel:
    if source.kind not in LOADERS:
        raise ValueError(
            f"{source.model_id}: no loader for source kind {source.kind!r}; "
            f"supported: {sorted(LOADERS)}"
        )
    model = LOADERS[source.kind](source)
    if source.rename:  # a labelled set's lying names (``ModelSource.rename``)
        names = dict(source.rename)
        model.source_morphs = {names.get(n, n): b for n, b in model.source_morphs.items()}
    for obj in list(bpy.context.scene.objects):  # a model's own lights and cameras: ours only
        if obj.type in {"LIGHT", "CAMERA"}:
            bpy.data.objects.remove(obj)
    return model
