"""Blender worker processes: render one model's images into a Parquet part file.

This module imports no bpy at import time; ``render_model`` imports the bpy-side modules inside
the worker (started with ``spawn``). Each model's rows are written to ``<part>.tmp`` and renamed
when complete, so a killed build leaves either a whole part or none.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from animeceleb.pose import ANGLE_SLICE

from .annotation import Annotation, annotate_by_name
from .png import strip_png_metadata
from .sampling import RenderItem, render_items
from .sources import ModelSource
from .styles import check_resolution, check_style

PART_SCHEMA = pa.schema(
    [
        ("image", pa.binary()),
        ("pose", pa.list_(pa.float32())),
        ("model_id", pa.string()),
        ("source", pa.string()),
        ("style", pa.string()),
        ("group", pa.string()),
        ("pair_id", pa.string()),
        ("license", pa.string()),
        ("attribution", pa.string()),
    ]
)


@dataclass(frozen=True)
class RenderTask:
    source: ModelSource
    styles: tuple[str, ...]
    resolution: int
    seed: int
    part_path: str
    annotation_path: str
    n_samples: int | None = None


@dataclass
class ModelReport:
    model_id: str
    status: str  # "rendered" or "skipped"
    reason: str = ""
    n_targets: int = 0
    images: dict[str, int] = field(default_factory=dict)  # "style/group" -> count
    seconds: float = 0.0


_progress = None  # a multiprocessing queue of rendered-image counts, set by ``init_worker``


def init_worker(progress_queue, log_path: str | None) -> None:
    """Pool initializer: remember the progress queue, send Blender's own output to a log file."""
    global _progress
    _progress = progress_queue
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)


def _report_progress(n: int) -> None:
    if _progress is not None:
        _progress.put(n)


def render_model(task: RenderTask) -> ModelReport:
    """Load, annotate, sample and render one model; write its part file. Runs in a worker."""
    start = time.perf_counter()
    model_id = task.source.model_id
    try:
        with BlenderModel(task.source, task.resolution) as model:
            annotation = _annotation_for(model, task.annotation_path)
            available = model.use_annotation(annotation)
            if not available:
                return ModelReport(model_id, "skipped", "no target morphs")
            items = render_items(model_id, available, seed=task.seed, n_samples=task.n_samples)
            rows = model.render(items, task.styles, on_image=_report_progress)
    except ModelLoadError as error:
        return ModelReport(model_id, "skipped", str(error))
    write_part(rows, task.part_path)
    counts = Counter(f"{row['style']}/{row['group']}" for row in rows)
    return ModelReport(
        model_id, "rendered", "", len(available), dict(counts), time.perf_counter() - start
    )


def _annotation_for(model: BlenderModel, path: str) -> Annotation:
    """The model's saved annotation when there is one (it may have been corrected by hand or by
    inspection), else a new one by name, saved to ``path``."""
    if os.path.exists(path):
        return Annotation.load(path)
    annotation = annotate_by_name(model.source.model_id, model.loaded.source_morphs)
    annotation.save(path)
    return annotation


def render_poses(
    source: ModelSource, poses: Sequence[Sequence[float]], style: str, resolution: int
) -> list[bytes]:
    """Render ``poses`` (each 20 values) of one model in one style; returns PNG bytes per pose.

    Runs in a Blender worker (see ``run_in_blender``).
    """
    from animeceleb.pose import morphs_from_pose, validate_pose

    check_resolution(resolution)
    check_style(style)
    checked = [validate_pose(p, what=f"pose {i}") for i, p in enumerate(poses)]
    with BlenderModel(source, resolution) as model:
        available = model.use_annotation(
            annotate_by_name(source.model_id, model.loaded.source_morphs)
        )
        items = [
            RenderItem("frontal", f"pose-{i}", morphs_from_pose(p, available), _angles(p))
            for i, p in enumerate(checked)
        ]
        rows = model.render(items, (style,))
    return [row["image"] for row in rows]


def _angles(pose) -> tuple[float, float, float]:
    yaw, pitch, roll = (float(a) for a in pose[ANGLE_SLICE])
    return yaw, pitch, roll


def save_procedural_character(seed: int, path: str) -> None:
    """Build procedural character ``seed`` in a fresh scene and save it as .blend or .glb.

    Runs in a Blender worker (see ``run_in_blender``).
    """
    from .procedural import build_character, character_spec, save_character
    from .scene import reset_scene

    reset_scene()
    save_character(build_character(character_spec(seed)), path)


def run_in_blender(function: Callable, /, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` in a fresh worker process (spawn) and return its result.

    Keeps ``bpy`` out of the calling process; exceptions are re-raised here.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args, **kwargs).result()


def write_part(rows: list[dict], path: str) -> None:
    """Write rows as one Parquet file, atomically (temporary name, then rename)."""
    table = pa.Table.from_pylist(rows, schema=PART_SCHEMA)
    tmp = f"{path}.tmp"
    pq.write_table(table, tmp, compression="none")
    os.replace(tmp, path)


class ModelLoadError(RuntimeError):
    """A model file could not be loaded (the message names the file and the reason)."""


class BlenderModel:
    """One model loaded into a fresh Blender scene, ready to render many images.

    The scene is built once; each image only changes shape-key values, the head rotation and,
    per style, the material slots.
    """

    def __init__(self, source: ModelSource, resolution: int) -> None:
        from . import loaders, scene

        self.source = source
        self.resolution = resolution
        self.scene = scene.reset_scene()
        scene.configure_render(self.scene, resolution)
        try:  # everything that depends on the model: a bad model is skipped with its reason
            self.loaded = loaders.load_model(source)
            scene.add_front_light(self.scene)
            points = scene.weighted_vertices(
                self.loaded.frame_meshes or self.loaded.meshes, self.loaded.frame_bones
            )
            scene.frame_camera(self.scene, points)
            self.rotator = scene.HeadRotator(self.loaded.armature, self.loaded.rotate_bone)
        except (RuntimeError, OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"{source.path or source.model_id}: {error}") from error
        self.morphs = None
        self._switcher = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="animeceleb-", dir=_fast_tmp())

    def __enter__(self) -> BlenderModel:
        return self

    def __exit__(self, *exc) -> None:
        self._tmpdir.cleanup()

    def use_annotation(self, annotation: Annotation) -> list[str]:
        """Drive shape keys through ``annotation``; returns the target morphs the model has."""
        from .morphs import MorphSetter

        self.morphs = MorphSetter(self.loaded.source_morphs, annotation)
        return self.morphs.available

    @property
    def switcher(self):
        if self._switcher is None:
            from .shaders import StyleSwitcher

            self._switcher = StyleSwitcher(self.scene, self.loaded.meshes)
        return self._switcher

    def render(
        self,
        items: Sequence[RenderItem],
        styles: Sequence[str],
        on_image: Callable[[int], None] | None = None,
    ) -> list[dict]:
        import bpy

        rows = []
        path = os.path.join(self._tmpdir.name, "frame.png")
        self.scene.render.filepath = path
        for style in styles:
            self.switcher.apply(style)
            for item in items:
                self.morphs.apply(item.morphs)
                self.rotator.set_angles(*item.angles)
                bpy.ops.render.render(write_still=True)
                rows.append(
                    {
                        "image": strip_png_metadata(Path(path).read_bytes()),
                        "pose": item.pose.tolist(),
                        "model_id": self.source.model_id,
                        "source": self.source.kind,
                        "style": style,
                        "group": item.group,
                        "pair_id": item.pair_id,
                        "license": self.source.license,
                        "attribution": self.source.attribution,
                    }
                )
                if on_image is not None:
                    on_image(1)
        return rows


def _fast_tmp() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
