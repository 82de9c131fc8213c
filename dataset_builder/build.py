"""Build a dataset: render every model in Blender worker processes, then write the Hub folder.

A build folder holds ``build.json`` (the settings), ``render/<model_id>.parquet`` (one finished
shard per model), ``annotations/<model_id>.json``, ``logs/``, ``report.json`` and ``hub/`` (the
published layout). Re-running the same build resumes: models whose shard exists are not rendered
again.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .annotation import Annotation
from .annotation_sources import DEFAULT_GROUP_MIN_MODELS, annotate, group_mapping
from .files import changed_settings, write_atomic
from .inspection import Finding
from .sources import ModelSource
from .styles import STYLE_NAMES, check_resolution, check_style
from .tasks import ModelReport, RenderTask
from .worker import init_worker, render_in_worker, run_job

logger = logging.getLogger("dataset_builder")
SETTINGS_FILE = "build.json"


@dataclass(frozen=True)
class BuildSettings:
    """Everything that determines a build's content (same settings -> same keys and poses)."""

    sources: tuple[ModelSource, ...]
    styles: tuple[str, ...] = STYLE_NAMES
    resolution: int = 256
    seed: int = 0
    samples_per_model: int | None = None  # None: the paper's rule (100, or 20)
    group_min_models: int = DEFAULT_GROUP_MIN_MODELS  # group annotation: names in >= N models

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("no models to render: expected at least one model")
        check_resolution(self.resolution)
        for style in self.styles:
            check_style(style)
        if self.samples_per_model is not None and self.samples_per_model < 0:
            raise ValueError(f"samples per model must be >= 0, got {self.samples_per_model}")
        if self.group_min_models < 1:
            raise ValueError(
                f"group annotation's minimum models must be >= 1, got {self.group_min_models}"
            )
        ids = [s.model_id for s in self.sources]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"duplicate model ids: {sorted(k for k, n in Counter(ids).items() if n > 1)}"
            )

    def to_json(self) -> dict:
        """The settings as JSON types (lists, not tuples), comparable with a saved build.json.

        Settings added later are left out at their defaults, so older build folders resume."""
        data = json.loads(json.dumps(asdict(self)))
        if self.group_min_models == DEFAULT_GROUP_MIN_MODELS:
            del data["group_min_models"]
        for source in data["sources"]:
            if not source["rename"]:
                del source["rename"]
            if source["procedural_body"] == "shoulders":
                del source["procedural_body"]
        return data

    @classmethod
    def load(cls, out_dir: str | Path) -> BuildSettings:
        """The settings of the build in ``out_dir`` (its ``build.json``)."""
        path = Path(out_dir) / SETTINGS_FILE
        if not path.is_file():
            raise ValueError(f"{out_dir}: not a build folder (no {SETTINGS_FILE})")
        data = json.loads(path.read_text(encoding="utf-8"))
        sources = tuple(
            ModelSource(**{**s, "rename": tuple(map(tuple, s.get("rename", ())))})
            for s in data.pop("sources")
        )
        return cls(sources=sources, **{**data, "styles": tuple(data["styles"])})


@dataclass
class BuildReport:
    models: list[ModelReport] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        images: Counter[str] = Counter()
        targets: Counter[str] = Counter()
        for model in self.models:
            images.update(model.images)
            targets.update(model.target_sources)
        return {
            "models_rendered": sum(m.status == "rendered" for m in self.models),
            "models_resumed": len(self.resumed),
            "models_skipped": {m.model_id: m.reason for m in self.models if m.status == "skipped"},
            "images_rendered": sum(images.values()),
            "images_per_style_and_group": dict(sorted(images.items())),
            "targets_by_source": dict(sorted(targets.items())),
            "seconds": round(self.seconds, 2),
        }


def prepare_build_dir(out_dir: Path, settings: BuildSettings) -> None:
    """Create ``out_dir`` or check that it holds this same build (to resume)."""
    settings_path = out_dir / SETTINGS_FILE
    wanted = settings.to_json()
    changed = changed_settings(settings_path, wanted)
    if changed:
        raise ValueError(
            f"output folder {out_dir} holds a different build (settings differ in: "
            f"{', '.join(changed)}); use another folder or the same settings to resume"
        )
    if changed is not None:
        return
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(
            f"output folder {out_dir} is not empty and holds no {SETTINGS_FILE}; "
            "expected a new folder or an earlier build with the same settings"
        )
    for sub in ("render", "annotations", "logs"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    write_atomic(settings_path, json.dumps(wanted, indent=1, sort_keys=True))


def render_all(
    settings: BuildSettings,
    out_dir: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    backend: str = "processes",
) -> BuildReport:
    """Render every model not rendered yet into ``out_dir/render``; returns the report.

    ``backend`` "processes" runs ``workers`` local Blender processes; "ray" runs one Ray task per
    model (on the cluster at ``RAY_ADDRESS`` if set, else a local Ray with ``workers`` CPUs).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    out_dir = Path(out_dir)
    prepare_build_dir(out_dir, settings)
    with _log_to(out_dir / "build.log"):
        return _render_missing(settings, out_dir, workers, progress, backend)


def _render_missing(
    settings: BuildSettings, out_dir: Path, workers: int, progress: bool, backend: str
) -> BuildReport:
    report = BuildReport()
    tasks = []
    for source in settings.sources:
        shard = out_dir / "render" / f"{source.model_id}.parquet"
        if shard.exists():
            report.resumed.append(source.model_id)
            continue
        tasks.append(
            RenderTask(
                source=source,
                styles=settings.styles,
                resolution=settings.resolution,
                seed=settings.seed,
                shard_path=str(shard),
                annotation_path=str(out_dir / "annotations" / f"{source.model_id}.json"),
                n_samples=settings.samples_per_model,
            )
        )
    logger.info(
        "build %s: %d models, %d already rendered, %d to render with %d worker(s)",
        out_dir,
        len(settings.sources),
        len(report.resumed),
        len(tasks),
        workers,
    )
    start = time.perf_counter()
    if tasks:
        _group_annotate(settings, out_dir, workers, progress, backend)
        report.models = _render_tasks(tasks, workers, out_dir / "logs", progress, backend)
    report.seconds = time.perf_counter() - start
    for model in report.models:
        if model.status == "skipped":
            logger.warning("skipped %s: %s", model.model_id, model.reason)
    summary = report.summary()
    logger.info("render summary: %s", json.dumps(summary))
    models = [asdict(m) for m in report.models]
    write_atomic(
        out_dir / "report.json", json.dumps({"summary": summary, "models": models}, indent=1)
    )
    return report


BACKENDS = ("processes", "ray")


def _group_annotate(
    settings: BuildSettings, out_dir: Path, workers: int, progress: bool, backend: str
) -> None:
    """Group annotation, when the collection has at least ``group_min_models`` models: inspect
    every model without an annotation file (a Blender load each, before rendering loads it
    again), map the names seen in that many models once for all (``group_mapping``) and save
    each model's annotation. Smaller collections are annotated in the render worker instead."""
    if len(settings.sources) < settings.group_min_models:
        return
    paths = {s.model_id: out_dir / "annotations" / f"{s.model_id}.json" for s in settings.sources}
    new = [s for s in settings.sources if not paths[s.model_id].exists()]
    if not new:
        return
    names = {i: Annotation.load(p).source_names() for i, p in paths.items() if p.exists()}
    log_path = str(out_dir / "logs" / "blender.log")
    found = _inspect(new, settings.resolution, workers, log_path, progress, backend)
    names |= {model_id: [f.name for f in findings] for model_id, findings in found.items()}
    every = [finding for findings in found.values() for finding in findings]
    group = group_mapping(names, every, settings.group_min_models)
    for model_id, findings in found.items():
        annotate(model_id, findings, group).save(paths[model_id])
    logger.info(
        "group annotation: %d names seen in at least %d of %d models mapped once for all "
        "(%d to a target); %d models inspected",
        len(group),
        settings.group_min_models,
        len(settings.sources),
        sum(f.target is not None for f in group.values()),
        len(found),
    )


def _inspect(
    sources: list[ModelSource],
    resolution: int,
    workers: int,
    log_path: str,
    progress: bool,
    backend: str,
) -> dict[str, list[Finding]]:
    """Model id -> inspection's findings, in Blender workers (local processes, or Ray tasks);
    models that do not load are left out (rendering skips them with the reason)."""
    bar = tqdm(total=len(sources), unit="model", disable=not progress, desc="inspect")
    found = {}

    def finished(model_id: str, findings: list[Finding] | None) -> None:
        if findings is not None:
            found[model_id] = findings
        bar.update(1)

    try:
        if backend == "ray":
            from .ray_backend import inspect_with_ray

            inspect_with_ray(sources, resolution, workers, log_path, finished)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=init_worker, initargs=(None, log_path)
            ) as pool:
                futures = {
                    pool.submit(run_job, "inspect_morphs", source, resolution): source.model_id
                    for source in sources
                }
                for future in as_completed(futures):
                    finished(futures[future], future.result())
    finally:
        bar.close()
    return found


def _render_tasks(
    tasks: list[RenderTask], workers: int, log_dir: Path, progress: bool, backend: str
) -> list[ModelReport]:
    bar = tqdm(total=len(tasks), unit="model", disable=not progress, desc="render")
    reports: list[ModelReport] = []

    def finished(report: ModelReport) -> None:
        reports.append(report)
        logger.info(
            "%s: %s %s (%d images, %.1f s; targets by source: %s)",
            report.model_id,
            report.status,
            report.reason,
            sum(report.images.values()),
            report.seconds,
            ", ".join(f"{k} {n}" for k, n in sorted(report.target_sources.items())) or "none",
        )
        bar.update(1)

    log_path = str(log_dir / "blender.log")
    try:
        if backend == "ray":
            from .ray_backend import render_with_ray

            render_with_ray(tasks, workers, log_path, finished)
        else:
            _render_with_processes(tasks, workers, log_path, finished, bar)
    finally:
        bar.close()
    return sorted(reports, key=lambda r: r.model_id)


def _render_with_processes(tasks, workers, log_path, finished, bar) -> None:
    """A pool of ``spawn``-started Blender workers; a thread turns their image counts into the
    progress bar's images/s."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    stop = threading.Event()
    started = time.perf_counter()

    def count_images() -> None:
        images = 0
        while not stop.is_set():
            try:
                images += queue.get(timeout=0.2)
            except Exception:  # queue.Empty, or the queue closed at shutdown
                continue
            rate = images / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(images=images, img_per_s=f"{rate:.1f}", refresh=False)

    watcher = threading.Thread(target=count_images, daemon=True)
    watcher.start()
    try:
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=init_worker, initargs=(queue, log_path)
        ) as pool:
            futures = {pool.submit(render_in_worker, task): task for task in tasks}
            for future in as_completed(futures):
                try:
                    finished(future.result())
                except BrokenProcessPool:
                    model_id = futures[future].source.model_id
                    raise RuntimeError(
                        f"a Blender worker died while rendering {model_id} (see {log_path}); "
                        "finished models are kept: run the same command again to resume"
                    ) from None
    finally:
        stop.set()
        watcher.join()


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Also log to ``path`` while the block runs."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
