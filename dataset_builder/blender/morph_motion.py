"""Measure what each source morph moves, in the framed camera's image (bpy-side).

For a loaded model, each source morph's shape-key deltas (its binds' weights times each key's
offset from its relative key) are taken at 1 against the neutral mesh, moved to world space and
projected through the orthographic camera that frames the head: no render is needed. What comes
back is plain data (``dataset_builder.motion``): per morph the image positions and displacements
of the vertices it moves, and the eye bones' image positions when the rig has eye bones.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..motion import MIN_MOTION, ModelMotion, MorphMotion
from ..rigs import normalised
from ..sources import ModelSource
from .model import BlenderModel

# Eye bone names after ``rigs.normalised``: VRM humanoid, VRoid, Mixamo, MMD, Rigify.
EYE_BONES = {
    "L": ("lefteye", "eye_l", "eye.l", "adj_l_faceeye", "左目", "eyeleft", "l_eye"),
    "R": ("righteye", "eye_r", "eye.r", "adj_r_faceeye", "右目", "eyeright", "r_eye"),
}


def measure_morphs(source: ModelSource, resolution: int = 128) -> ModelMotion:
    """Load ``source``, frame it as for rendering and measure every source morph at 1."""
    with BlenderModel(source, resolution) as model:
        return measure_loaded(model)


def measure_loaded(model: BlenderModel) -> ModelMotion:
    """Measure every source morph of a model already loaded and framed (as for rendering)."""
    to_image = _projector(model.scene.camera)
    meshes = model.loaded.meshes
    measured = [
        MorphMotion(name, *_morph_motion(binds, meshes, to_image))
        for name, binds in model.loaded.source_morphs.items()
    ]
    eyes = _eye_bones(model.loaded.armature, to_image)
    return ModelMotion(
        model_id=model.source.model_id,
        morphs=measured,
        eye_bones=eyes,
        presets=model.loaded.presets,
    )


def _projector(camera: bpy.types.Object):
    """World points (N, 3) -> image points (N, 2): x right, y down, in image widths."""
    to_camera = np.array(camera.matrix_world.inverted())
    scale = camera.data.ortho_scale

    def to_image(points: np.ndarray) -> np.ndarray:
        local = points @ to_camera[:3, :3].T + to_camera[:3, 3]
        return np.stack([0.5 + local[:, 0] / scale, 0.5 - local[:, 1] / scale], axis=1)

    return to_image


def _morph_motion(binds, meshes, to_image) -> tuple[np.ndarray, np.ndarray]:
    """Image positions (rest) and displacements of the vertices a morph moves."""
    owners = {obj.data.shape_keys: obj for obj in meshes if obj.data.shape_keys is not None}
    rests, deltas = [], []
    for key in dict.fromkeys(block.id_data for block, _ in binds):
        owner = owners[key]
        n = len(owner.data.vertices)
        basis = _coords(key.reference_key, n)
        offset = np.zeros_like(basis)
        for block, weight in binds:
            if block.id_data == key:
                offset += weight * (_coords(block, n) - _coords(block.relative_key, n))
        matrix = np.array(owner.matrix_world)
        rest = to_image(basis @ matrix[:3, :3].T + matrix[:3, 3])
        moved = to_image((basis + offset) @ matrix[:3, :3].T + matrix[:3, 3])
        rests.append(rest)
        deltas.append(moved - rest)
    rest, delta = np.concatenate(rests), np.concatenate(deltas)
    keep = np.linalg.norm(delta, axis=1) > MIN_MOTION
    return rest[keep].astype(np.float32), delta[keep].astype(np.float32)


def _coords(block: bpy.types.ShapeKey, n: int) -> np.ndarray:
    co = np.empty(n * 3, dtype=np.float64)
    block.data.foreach_get("co", co)
    return co.reshape(n, 3)


def _eye_bones(armature: bpy.types.Object, to_image) -> dict[str, tuple[float, float]]:
    """Image positions of the left and right eye bones' heads (the character's sides)."""
    found = {}
    for bone in armature.data.bones:
        name = normalised(bone.name)
        for side, names in EYE_BONES.items():
            if name in names and side not in found:
                head = np.array(armature.matrix_world @ bone.head_local)[None, :]
                found[side] = tuple(float(v) for v in to_image(head)[0])
    return found if len(found) == 2 else {}
