"""Scale rendering out with Ray: one task per model, each in a Ray worker process.

Ray workers are separate processes, so ``bpy`` stays out of the driver as with the local pool.
With ``RAY_ADDRESS`` set the tasks go to that cluster; otherwise a local Ray starts with
``workers`` CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .worker import ModelReport, RenderTask, init_worker, render_model


def _render_logged(task: RenderTask, log_path: str) -> ModelReport:
    init_worker(None, log_path)
    return render_model(task)


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
        remote = ray.remote(num_cpus=1, max_retries=1)(_render_logged)
        pending = [remote.remote(task, log_path) for task in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                finished(ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()
