"""Review a build's annotations (no bpy here): per model, the neutral render beside a render of
each source morph at 1, what annotation proposed for it and why; a person's decisions are saved
as the model's annotation file and its shard removed, so the next run of the same build renders
it with them (``spaces/annotation_review`` is the Gradio app over this).

Renders come from a Blender worker process (``render_source_morphs``) once per model and are
kept in ``<build>/review/<model_id>/`` (``morphs.json``: the morph names in model order;
``neutral.png``, ``morph-0000.png``, ...: files are named by position, never by morph name).
Model ids are only ever taken from the build's own list.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .annotation import Annotation
from .annotation_review import NO_TARGET, ReviewError, apply_decisions, proposed_targets
from .build import BuildSettings
from .files import replace_dir
from .worker import run_in_blender

REVIEW_DIR = "review"
REVIEW_STYLE = "cel"
INDEX = "morphs.json"


@dataclass(frozen=True)
class MorphRow:
    """One source morph under review: its render, the proposed target (or ``NO_TARGET``), how
    that was decided (``method``) and why."""

    morph: str
    image: Path
    proposed: str
    method: str
    reason: str


class BuildReview:
    """The models of one build folder, their review renders and annotations."""

    def __init__(self, build_dir: str | Path) -> None:
        self.build_dir = Path(build_dir)
        self.settings = BuildSettings.load(self.build_dir)
        self.sources = {source.model_id: source for source in self.settings.sources}
        self._rendering = threading.Lock()

    @property
    def model_ids(self) -> list[str]:
        return list(self.sources)

    @property
    def review_dir(self) -> Path:
        return self.build_dir / REVIEW_DIR

    def _checked(self, model_id: str) -> str:
        if model_id not in self.sources:
            raise ReviewError(f"no model {model_id!r} in the build {self.build_dir}")
        return model_id

    def annotation_path(self, model_id: str) -> Path:
        return self.build_dir / "annotations" / f"{self._checked(model_id)}.json"

    def shard_path(self, model_id: str) -> Path:
        return self.build_dir / "render" / f"{self._checked(model_id)}.parquet"

    def annotation(self, model_id: str) -> Annotation:
        path = self.annotation_path(model_id)
        if not path.is_file():
            raise ReviewError(f"{model_id} has no annotation yet: run the build first")
        return Annotation.load(path)

    def renders(self, model_id: str) -> tuple[Path, dict[str, Path]]:
        """The neutral render and each source morph's (name -> file, model order), rendered in
        Blender the first time."""
        folder = self.review_dir / self._checked(model_id)
        with self._rendering:
            if not (folder / INDEX).is_file():
                self._render(model_id, folder)
        names = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        return folder / "neutral.png", {n: folder / _morph_file(i) for i, n in enumerate(names)}

    def _render(self, model_id: str, folder: Path) -> None:
        resolution = self.settings.resolution
        neutral, morphs = run_in_blender(
            "render_source_morphs", self.sources[model_id], resolution, REVIEW_STYLE
        )
        self.review_dir.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{model_id}-", dir=self.review_dir))
        try:
            (tmp / "neutral.png").write_bytes(neutral)
            for i, image in enumerate(morphs.values()):
                (tmp / _morph_file(i)).write_bytes(image)
            (tmp / INDEX).write_text(json.dumps(list(morphs), ensure_ascii=False), "utf-8")
            replace_dir(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def rows(self, model_id: str) -> list[MorphRow]:
        """Every source morph of the model with its render and what annotation proposed."""
        annotation = self.annotation(model_id)
        proposed = proposed_targets(annotation)
        _, images = self.renders(model_id)
        rows = []
        for morph, image in images.items():
            target = proposed.get(morph)
            if target is None:
                method, reason = "", annotation.declined.get(morph, "")
            else:
                method = annotation.methods.get(target, annotation.method)
                reason = annotation.reasons.get(target, "")
            rows.append(MorphRow(morph, image, target or NO_TARGET, method, reason))
        return rows

    def save(self, model_id: str, decisions: Mapping[str, str]) -> str:
        """Apply a person's decisions (source morph -> target or ``NO_TARGET``), save the
        annotation (atomically) and remove the model's shard so the next build renders it again;
        returns what was done, one line."""
        annotation = self.annotation(model_id)
        _, images = self.renders(model_id)
        reviewed = apply_decisions(annotation, decisions, list(images))
        path = self.annotation_path(model_id)
        reviewed.save(path)
        self.shard_path(model_id).unlink(missing_ok=True)
        proposed = proposed_targets(annotation)
        changed = sum(
            t != proposed.get(m, NO_TARGET) and t != NO_TARGET for m, t in decisions.items()
        )
        dropped = sum(t == NO_TARGET and m in proposed for m, t in decisions.items())
        return (
            f"saved {path.name}: {len(reviewed.targets)} targets ({changed} changed, {dropped} "
            f"dropped); run the same build command again to render {model_id} with them"
        )


def _morph_file(index: int) -> str:
    return f"morph-{index:04d}.png"
