"""Process plumbing for Blender workers: the worker initializer, and calling a job of
``dataset_builder.blender.jobs`` by name inside a worker (the task and report types are in
``dataset_builder.tasks``).

This module never imports ``bpy``: the parent refers to jobs by name, and only the worker process
(started with ``spawn``, or a Ray worker) imports ``dataset_builder.blender``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .tasks import ModelReport, RenderTask

JOBS = (
    "render_model",
    "render_poses",
    "render_showable_poses",
    "render_source_morphs",
    "save_procedural_character",
    "convert_model",
    "measure_morphs",
    "inspect_morphs",
    "material_fallbacks",
)


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


def run_job(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Run job ``name`` of ``dataset_builder.blender.jobs``; call it inside a worker process."""
    if name not in JOBS:
        raise ValueError(f"unknown Blender job {name!r}; expected one of {JOBS}")
    from .blender import jobs

    return getattr(jobs, name)(*args, **kwargs)


def render_in_worker(task: RenderTask) -> ModelReport:
    """Render one model's shard in this worker, reporting each image to the progress queue."""
    return run_job("render_model", task, on_image=_report_progress)


def run_in_blender(name: str, /, *args: Any, blender_log: str | None = None, **kwargs: Any) -> Any:
    """Run job ``name`` in a fresh worker process (spawn) and return its result.

    Keeps ``bpy`` out of the calling process; exceptions are re-raised here. With
    ``blender_log``, Blender's own output (a line per rendered frame) goes to that file instead
    of the console.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=init_worker, initargs=(None, blender_log)
    ) as pool:
        return pool.submit(run_job, name, *args, **kwargs).result()
