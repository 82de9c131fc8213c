"""Scale rendering out with Ray: one task per model, each in a Ray worker process.

Ray workers are separate processes, so ``bpy`` stays out of the driver as with the local pool.
With ``RAY_ADDRESS`` set the tasks go to that cluster; otherwise a local Ray starts with
``workers`` CPUs. A task renders into its own temporary folder and returns the part and the
annotation; the driver writes them into the build folder, so the nodes need no shared disk.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .files import write_atomic
from .worker import ModelReport, RenderTask, init_worker, render_in_worker


def _render_remote(
    task: RenderTask, log_path: str, annotation: str | None
) -> tuple[ModelReport, bytes | None, str]:
    """Render ``task`` on a Ray worker; returns the report, the part's bytes and the annotation."""
    init_worker(None, log_path if os.path.isdir(os.path.dirname(log_path)) else None)
    with tempfile.TemporaryDirectory(prefix="animeceleb-ray-") as tmp:
        local = dataclasses.replace(
            task,
            part_path=os.path.join(tmp, "part.parquet"),
            annotation_path=os.path.join(tmp, "annotation.json"),
        )
        if annotation is not None:
            Path(local.annotation_path).write_text(annotation)
        report = render_in_worker(local)
        part = Path(local.part_path)
        return (
            report,
            part.read_bytes() if part.exists() else None,
            Path(local.annotation_path).read_text()
            if os.path.exists(local.annotation_path)
            else "",
        )


def render_with_ray(
    tasks: list[RenderTask],
    workers: int,
    log_path: str,
    finished: Callable[[ModelReport], None],
) -> None:
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
        remote = ray.remote(num_cpus=1, max_retries=1)(_render_remote)
        pending = {}
        for task in tasks:
            saved = Path(task.annotation_path)
            annotation = saved.read_text() if saved.exists() else None
            pending[remote.remote(task, log_path, annotation)] = task
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                report, part, annotation = ray.get(ref)
                if annotation:
                    write_atomic(task.annotation_path, annotation)
                if part is not None:
                    write_atomic(task.part_path, part)
                finished(report)
    finally:
        if started_here:
            ray.shutdown()
