"""Load a model into the current Blender scene (bpy-side).

One loader per source kind; each returns a ``LoadedModel`` naming the armature, the bone that
turns the head (the neck, as in the paper), the bones whose vertices frame the camera, the meshes
and the shape-key names in model order; a VRM also names its expression presets, which the
annotation ranks ahead of shape-key names.
"""

from __future__ import annotations

from dataclasses import dataclass

import addon_utils
import bpy

from ..rigs import find_head_and_neck
from ..sources import ModelSource, check_binary_gltf
from .morphs import Binds, shape_key_morphs
from .scene import bone_and_descendants


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

    built = build_character(character_spec(source.seed))
    armature = bpy.data.objects[built.armature_name]
    meshes = [bpy.data.objects[name] for name in built.mesh_names]
    return LoadedModel(
        armature=armature,
        rotate_bone=built.neck_bone,
        frame_bones=bone_and_descendants(armature, built.head_bone),
        meshes=meshes,
        source_morphs=shape_key_morphs(meshes),
        # Frame on the face so long hair and twin tails do not shrink the head in the image.
        frame_meshes=[bpy.data.objects[built.face_mesh_name]],
    )


def load_vrm(source: ModelSource) -> LoadedModel:
    """A VRM 0.x/1.0 file through the VRM add-on (bpy-vrm-format): humanoid head/neck bones, shape
    keys and the expression groups (``blink``, ``a`` ...) with their weighted binds."""
    check_binary_gltf(source.path)  # the add-on reports a truncated file as a traceback
    addon_utils.enable("io_scene_vrm", default_set=True)
    bpy.ops.import_scene.vrm(filepath=source.path)
    armature = _only_armature()
    humanoid = armature.data.vrm_addon_extension.vrm1.humanoid.human_bones
    head, neck = humanoid.head.node.bone_name, humanoid.neck.node.bone_name
    if not head:
        raise ValueError("the VRM humanoid has no head bone")
    meshes = _meshes_of(armature)
    morphs = shape_key_morphs(meshes)
    presets = set()
    for name, (binds, is_preset) in _vrm_expressions(armature).items():
        keys = [
            (obj.data.shape_keys.key_blocks[key], weight)
            for mesh_name, key, weight in binds
            if (obj := bpy.data.objects.get(mesh_name)) is not None
            and obj.data.shape_keys is not None
            and key in obj.data.shape_keys.key_blocks
        ]
        if keys and (is_preset or name not in morphs):  # a preset wins over a same-named key
            morphs[name] = keys
            if is_preset:
                presets.add(name)
    frame_bones = bone_and_descendants(armature, head)
    return LoadedModel(
        armature, neck or head, frame_bones, meshes, morphs, presets=frozenset(presets)
    )


def _vrm_expressions(
    armature: bpy.types.Object,
) -> dict[str, tuple[list[tuple[str, str, float]], bool]]:
    """Expression name -> ((mesh object, shape key, weight) binds, whether it is a preset), for
    VRM 0.x (a group whose ``preset_name`` is not "unknown") and 1.0 (the ``preset`` ones)."""
    extension = armature.data.vrm_addon_extension
    expressions: dict[str, tuple[list[tuple[str, str, float]], bool]] = {}
    if extension.spec_version == "0.0":
        for group in extension.vrm0.blend_shape_master.blend_shape_groups:
            is_preset = group.preset_name != "unknown"
            name = group.preset_name if is_preset else group.name
            binds = [(b.mesh.mesh_object_name, b.index, b.weight) for b in group.binds]
            expressions[name] = (binds, is_preset)
        return expressions
    vrm1 = extension.vrm1.expressions
    named = [(name, e, True) for name, e in vrm1.preset.name_to_expression_dict().items()]
    named += [(e.custom_name, e, False) for e in vrm1.custom]
    for name, expression, is_preset in named:
        binds = [
            (b.node.mesh_object_name, b.index, b.weight) for b in expression.morph_target_binds
        ]
        expressions[name] = (binds, is_preset)
    return expressions


def load_gltf(source: ModelSource) -> LoadedModel:
    """A glTF/GLB file through Blender's importer; head and neck bones found by name, else from
    the skeleton's structure (:func:`dataset_builder.rigs.find_head_and_neck`)."""
    bpy.ops.import_scene.gltf(filepath=source.path)
    return _rigged_model(source)


def load_fbx(source: ModelSource) -> LoadedModel:
    """An FBX file (what most characters for Unity ship as) through Blender's bundled importer;
    textures are looked up beside the file; head and neck bones found as for glTF."""
    addon_utils.enable("io_scene_fbx", default_set=True)
    bpy.ops.import_scene.fbx(filepath=source.path, use_image_search=True)
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


def _rigged_model(source: ModelSource) -> LoadedModel:
    armature = _only_armature()
    bones = {bone.name: bone.parent.name if bone.parent else None for bone in armature.data.bones}
    positions = {}  # rest positions, for when no name matches
    for bone in armature.data.bones:
        x, y, z = armature.matrix_world @ bone.head_local
        positions[bone.name] = (x, y, z)
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
    if len(armatures) != 1:
        raise ValueError(f"expected one armature, found {len(armatures)}")
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
