"""One model loaded into a fresh Blender scene, ready to render many images."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import bpy

from ..annotation import Annotation
from ..png import strip_png_metadata
from ..sampling import RenderItem
from ..sources import ModelSource
from . import loaders, scene
from .morphs import MorphSetter
from .style_materials import StyleSwitcher


def one_line(error: BaseException) -> str:
    """An error's message on one line: an importer's traceback becomes its last line (the
    exception), other multi-line messages are joined."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if any("Traceback" in line for line in lines):
        return lines[-1]
    return " ".join(lines)


class ModelLoadError(RuntimeError):
    """A model file could not be loaded (the message names the file and the reason)."""


class BlenderModel:
    """One model loaded into a fresh Blender scene, ready to render many images.

    The scene is built once; each image only changes shape-key values, the head rotation and,
    per style, the material slots.
    """

    def __init__(self, source: ModelSource, resolution: int) -> None:
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
            where, text = f"{source.path or source.model_id}: ", one_line(error)
            raise ModelLoadError(text if text.startswith(where) else where + text) from error
        self.morphs: MorphSetter | None = None
        self._switcher: StyleSwitcher | None = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="animeceleb-", dir=_fast_tmp())

    def __enter__(self) -> BlenderModel:
        return self

    def __exit__(self, *exc) -> None:
        self._tmpdir.cleanup()

    def use_annotation(self, annotation: Annotation) -> list[str]:
        """Drive shape keys through ``annotation``; returns the target morphs the model has."""
        self.morphs = MorphSetter.for_annotation(self.loaded.source_morphs, annotation)
        return self.morphs.available

    def use_source_morphs(self) -> list[str]:
        """Drive shape keys by source morph name (no annotation); returns the names, in model
        order."""
        self.morphs = MorphSetter(self.loaded.source_morphs)
        return list(self.morphs.binds)

    @property
    def switcher(self) -> StyleSwitcher:
        if self._switcher is None:
            self._switcher = StyleSwitcher(self.scene, self.loaded.meshes)
        return self._switcher

    def render(
        self,
        items: Sequence[RenderItem],
        styles: Sequence[str],
        on_image: Callable[[int], None] | None = None,
    ) -> list[dict]:
        """Render every item in every style; returns plain rows (PNG bytes, label names)."""
        rows = []
        for style in styles:
            self.switcher.apply(style)
            for item in items:
                rows.append(
                    {
                        "image": self.still(item.morphs, item.angles),
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

    def still(self, morphs: Mapping[str, float], angles: tuple[float, float, float]) -> bytes:
        """One image in the style last applied (``switcher.apply``): ``morphs`` set through
        ``use_annotation`` or ``use_source_morphs``, the head at ``angles``; PNG bytes."""
        path = os.path.join(self._tmpdir.name, "frame.png")
        if self.scene.render.filepath != path:  # each set costs Cycles a scene sync (~10%)
            self.scene.render.filepath = path
        self.morphs.apply(morphs)
        self.rotator.set_angles(*angles)
        bpy.ops.render.render(write_still=True)
        return strip_png_metadata(Path(path).read_bytes())


def _fast_tmp() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
