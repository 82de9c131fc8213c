"""The jobs a Blender worker runs (``dataset_builder.worker.run_job`` calls them by name)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from animeceleb.pose import ANGLE_SLICE, morphs_from_pose, showable_pose, validate_pose
from animeceleb.sampling import NO_ANGLES

from ..annotation import Annotation
from ..annotation_sources import annotate
from ..inspection import Finding, inspect_model
from ..procedural import character_spec
from ..sampling import RenderItem, render_items
from ..shards import write_shard
from ..sources import ModelSource
from ..styles import check_resolution, check_style
from ..tasks import ModelReport, RenderTask
from .export import (
    animate_bone,
    paint_vertex_colours,
    parent_to_bone,
    save_character,
    save_rig,
)
from .loaders import load_model
from .material_fallback import fallback_colour, unrenderable
from .model import BlenderModel, ModelLoadError
from .morph_motion import measure_loaded, measure_morphs
from .procedural import build_character
from .scene import reset_scene


def render_model(task: RenderTask, on_image: Callable[[int], None] | None = None) -> ModelReport:
    """Load, annotate, sample and render one model; write its shard."""
    start = time.perf_counter()
    model_id = task.source.model_id
    try:
        with BlenderModel(task.source, task.resolution) as model:
            annotation = _annotation_for(model, task.annotation_path)
            available = model.use_annotation(annotation)
            if not available:
                return ModelReport(model_id, "skipped", no_targets_reason(model, task))
            sources = annotation.target_sources(available)
            items = render_items(model_id, available, seed=task.seed, n_samples=task.n_samples)
            rows = model.render(items, task.styles, on_image=on_image)
    except ModelLoadError as error:
        return ModelReport(model_id, "skipped", str(error))
    write_shard(rows, task.shard_path)
    counts = Counter(f"{row['style']}/{row['group']}" for row in rows)
    return ModelReport(
        model_id,
        "rendered",
        "",
        len(available),
        dict(counts),
        time.perf_counter() - start,
        sources,
    )


def no_targets_reason(model: BlenderModel, task: RenderTask) -> str:
    """Why a model has no target morphs, and what to do about it."""
    names = list(model.loaded.source_morphs)
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    if not names:
        return "no target morphs: the model has no shape keys or expressions"
    return (
        f"no target morphs: none of its {len(names)} morphs ({shown}) maps to one by name or "
        f"inspection (why: 'declined'); map them to target morphs in {task.annotation_path} and "
        "build again"
    )


def _annotation_for(model: BlenderModel, path: str) -> Annotation:
    """The model's saved annotation when there is one (a person's edit, or made before by this
    build's group annotation), else a new one (``annotate_loaded``), saved to ``path``."""
    if os.path.exists(path):
        return Annotation.load(path)
    annotation = annotate_loaded(model)
    annotation.save(path)
    return annotation


def annotate_loaded(model: BlenderModel) -> Annotation:
    """A model's annotation from its presets, names and inspection, as a build makes it; the
    model is measured here, already loaded and framed for rendering."""
    return annotate(model.source.model_id, inspect_model(measure_loaded(model)))


def inspect_morphs(source: ModelSource, resolution: int) -> list[Finding] | None:
    """Inspection's finding for every source morph of ``source`` (group annotation's survey), or
    None when the model cannot be loaded (rendering then skips it with the reason)."""
    try:
        return inspect_model(measure_morphs(source, resolution))
    except ModelLoadError:
        return None


def render_poses(
    source: ModelSource,
    poses: Sequence[Sequence[float]],
    style: str,
    resolution: int,
    annotation_path: str | None = None,
) -> list[bytes]:
    """Render ``poses`` (each 20 values) of one model in one style; returns PNG bytes per pose.
    The expressions go through the annotation in ``annotation_path`` (e.g. a build's, edited by
    a person), else through one made as a build makes it (``annotate_loaded``)."""
    _, images = _render_poses(source, poses, style, resolution, annotation_path, showable=False)
    return images


def render_showable_poses(
    source: ModelSource, poses: Sequence[Sequence[float]], style: str, resolution: int
) -> tuple[list[list[float]], list[bytes]]:
    """Render each of ``poses`` as far as the model can show it (``showable_pose``: the
    expression dims it has no morph for are dropped), with the annotation a build makes;
    returns the poses shown and PNG bytes per pose. For poses from elsewhere (a person's), which
    a character need not be able to make."""
    return _render_poses(source, poses, style, resolution, None, showable=True)


def _render_poses(
    source: ModelSource,
    poses: Sequence[Sequence[float]],
    style: str,
    resolution: int,
    annotation_path: str | None,
    showable: bool,
) -> tuple[list[list[float]], list[bytes]]:
    check_resolution(resolution)
    check_style(style)
    checked = [validate_pose(p, what=f"pose {i}") for i, p in enumerate(poses)]
    annotation = Annotation.load(annotation_path) if annotation_path is not None else None
    with BlenderModel(source, resolution) as model:
        available = model.use_annotation(annotation or annotate_loaded(model))
        if showable:
            checked = [showable_pose(pose, available) for pose in checked]
        items = []
        for i, pose in enumerate(checked):
            try:
                morphs = morphs_from_pose(pose, available)
            except ValueError as error:
                where = (
                    annotation_path or "the annotation made from its presets, names and inspection"
                )
                raise ValueError(
                    f"{source.path or source.model_id}: pose {i}: {error} ({where})"
                ) from None
            items.append(RenderItem("frontal", f"pose-{i}", morphs, _angles(pose)))
        rows = model.render(items, (style,))
    return [pose.tolist() for pose in checked], [row["image"] for row in rows]


def render_source_morphs(
    source: ModelSource, resolution: int, style: str = "cel"
) -> tuple[bytes, dict[str, bytes]]:
    """The neutral image of one model and one image per source morph set to 1 alone (PNG bytes,
    morphs in model order): what a person reviewing its annotation looks at."""
    check_resolution(resolution)
    check_style(style)
    with BlenderModel(source, resolution) as model:
        names = model.use_source_morphs()
        model.switcher.apply(style)
        neutral = model.still({}, NO_ANGLES)
        return neutral, {name: model.still({name: 1.0}, NO_ANGLES) for name in names}


def _angles(pose) -> tuple[float, float, float]:
    yaw, pitch, roll = (float(a) for a in pose[ANGLE_SLICE])
    return yaw, pitch, roll


def convert_model(
    source: ModelSource,
    path: str,
    rename_shape_keys: Mapping[str, str] | None = None,
    head_animation_degrees: float = 0.0,
    parent_to_head: Sequence[str] = (),
    rename_bones: Mapping[str, str] | None = None,
    keep_shape_keys: bool = True,
    vertex_colours: bool = False,
) -> list[str]:
    """Load a model file (any format read) in a fresh scene, rename shape keys as given, and save
    its rig and meshes as .blend, .glb or .fbx: variants of real models for tests (a VRM as glTF,
    morphs renamed, an animation that turns the head by ``head_animation_degrees`` from its
    first frame on, the meshes named in ``parent_to_head`` unskinned and parented to the head
    bone, bones renamed as ``rename_bones`` says, their vertex groups with them, every shape key
    removed without ``keep_shape_keys``, materials turned into vertex colours with
    ``vertex_colours``). Returns the shape-key names saved."""
    reset_scene()
    loaded = load_model(source)
    meshes = {mesh.name: mesh for mesh in loaded.meshes}
    for name in parent_to_head:
        if name not in meshes:
            raise ValueError(f"{source.path}: no mesh {name!r}; its meshes: {sorted(meshes)}")
        parent_to_bone(meshes[name], loaded.armature, loaded.frame_bones[0])
    if head_animation_degrees:
        animate_bone(loaded.armature, loaded.rotate_bone, head_animation_degrees)
    names = []
    for mesh in loaded.meshes:
        if vertex_colours:
            paint_vertex_colours(mesh)
        if not keep_shape_keys and mesh.data.shape_keys is not None:
            mesh.shape_key_clear()
        keys = mesh.data.shape_keys.key_blocks if mesh.data.shape_keys else []
        for key in list(keys)[1:]:  # the first is the basis
            key.name = (rename_shape_keys or {}).get(key.name, key.name)
            names.append(key.name)
    for bone in loaded.armature.data.bones:  # Blender renames the vertex groups too
        bone.name = (rename_bones or {}).get(bone.name, bone.name)
    save_rig(
        loaded.armature.name,
        [mesh.name for mesh in loaded.meshes],
        path,
        animations=bool(head_animation_degrees),
    )
    return names


def material_fallbacks(source: ModelSource) -> dict[str, tuple[str | None, tuple[float, ...]]]:
    """Each material of a model's meshes: why Cycles cannot render it (None when it can) and
    the colour it falls back to (``material_fallback``)."""
    reset_scene()
    loaded = load_model(source)
    materials = {slot.material for mesh in loaded.meshes for slot in mesh.material_slots}
    return {
        m.name: (unrenderable(m), tuple(fallback_colour(m))) for m in materials if m is not None
    }


def save_procedural_character(seed: int, path: str, body: str = "shoulders") -> None:
    """Build procedural character ``seed`` with this body in a fresh scene and save it as .blend
    or .glb."""
    reset_scene()
    save_character(build_character(character_spec(seed, body)), path)
