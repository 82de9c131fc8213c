"""Scale a build out with Ray: one task per model, each in a Ray worker process, for group
annotation's survey (``inspect_with_ray``) and for rendering (``render_with_ray``).

Ray workers are separate processes, so ``bpy`` stays out of the driver as with the local pool.
With ``RAY_ADDRESS`` set the tasks go to that cluster; otherwise a local Ray starts with
``workers`` CPUs. A render task writes into its own temporary folder and returns the shard
and the annotation; the driver writes them into the build folder, so the nodes need no shared disk.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .files import write_atomic
from .inspection import Finding
from .sources import ModelSource
from .tasks import ModelReport, RenderTask
from .worker import init_worker, render_in_worker, run_job


def _render_remote(
    task: RenderTask, log_path: str, annotation: str | None
) -> tuple[ModelReport, bytes | None, str]:
    """Render ``task`` on a Ray worker; returns the report, the shard's bytes and the annotation."""
    init_worker(None, log_path if os.path.isdir(os.path.dirname(log_path)) else None)
    with tempfile.TemporaryDirectory(prefix="animeceleb-ray-") as tmp:
        local = dataclasses.replace(
            task,
            shard_path=os.path.join(tmp, "shard.parquet"),
            annotation_path=os.path.join(tmp, "annotation.json"),
        )
        if annotation is not None:
            Path(local.annotation_path).write_text(annotation)
        report = render_in_worker(local)
        shard = Path(local.shard_path)
        return (
            report,
            shard.read_bytes() if shard.exists() else None,
            Path(local.annotation_path).read_text()
            if os.path.exists(local.annotation_path)
            else "",
        )


def _inspect_remote(source: ModelSource, resolution: int, log_path: str) -> list[Finding] | None:
    """Inspection's findings for one model on a Ray worker (``inspect_morphs``)."""
    init_worker(None, log_path if os.path.isdir(os.path.dirname(log_path)) else None)
    return run_job("inspect_morphs", source, resolution)


@contextmanager
def _ray_session(workers: int) -> Iterator[Any]:
    """The ``ray`` module, initialised (a cluster at ``RAY_ADDRESS``, else ``workers`` local
    CPUs) unless it already is; shut down on exit if started here."""
    import ray

    address = os.environ.get("RAY_ADDRESS")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _as_completed(ray: Any, pending: dict) -> Iterator[tuple[Any, Any]]:
    """(what the task was submitted for, its result) as each task of ``pending`` finishes."""
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            yield pending.pop(ref), ray.get(ref)


def inspect_with_ray(
    sources: list[ModelSource],
    resolution: int,
    workers: int,
    log_path: str,
    finished: Callable[[str, list[Finding] | None], None],
) -> None:
    """Group annotation's survey: ``finished(model_id, findings or None)`` per model."""
    with _ray_session(workers) as ray:
        remote = ray.remote(num_cpus=1, max_retries=1)(_inspect_remote)
        pending = {remote.remote(s, resolution, log_path): s.model_id for s in sources}
        for model_id, findings in _as_completed(ray, pending):
            finished(model_id, findings)


def render_with_ray(
    tasks: list[RenderTask],
    workers: int,
    log_path: str,
    finished: Callable[[ModelReport], None],
) -> None:
    with _ray_session(workers) as ray:
        remote = ray.remote(num_cpus=1, max_retries=1)(_render_remote)
        pending = {}
        for task in tasks:
            saved = Path(task.annotation_path)
            annotation = saved.read_text() if saved.exists() else None
            pending[remote.remote(task, log_path, annotation)] = task
        for task, (report, shard, annotation) in _as_completed(ray, pending):
            if annotation:
                write_atomic(task.annotation_path, annotation)
            if shard is not None:
                write_atomic(task.shard_path, shard)
            finished(report)
