"""Evaluation metrics as local ``evaluate`` modules, loaded from this folder (never from the Hub).

Each metric is a folder ``<name>/`` with the script ``<name>.py``, a metric card ``README.md`` and
``_common.py``, a link to this folder's ``_common.py`` (the input checks the scripts share)::

    from training.metrics import load_metric

    ssim = load_metric("ssim")
    ssim.compute(predictions=images, references=targets, crop=0.5)  # {"ssim": ...}

``evaluate.load`` copies a script into its modules cache (``$HF_MODULES_CACHE``, by default
``$HF_HOME/modules/evaluate_modules/metrics/<name>/<hash>/``) and imports it from there; loading a
local script reaches no network. A script imports its shared checks relatively
(``from ._common import ...``), and ``evaluate.load`` copies that file from the script's folder
beside the copy: a metric's folder is complete on its own, and no script imports ``training``
(only libraries and ``animeceleb``, the base install of ``animeceleb-hf``), so each folder could be
pushed to the Hub as an ``evaluate`` metric by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import evaluate

METRICS_DIR = Path(__file__).resolve().parent
IMAGE_METRICS = ("ssim", "psnr", "l1", "sharpness")
POSE_METRICS = ("head_angle_error", "expression_error")
# scored on frontal pairs against their source too (``compute(..., sources=...)``)
EXPRESSION_METRICS = ("expression_l1",)
METRIC_NAMES: tuple[str, ...] = (*IMAGE_METRICS, *POSE_METRICS, *EXPRESSION_METRICS)


def metric_script(name: str) -> Path:
    """The script of the metric ``name``; ``ValueError`` for an unknown name."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRIC_NAMES)}")
    return METRICS_DIR / name / f"{name}.py"


def load_metric(name: str, **kwargs: Any) -> evaluate.EvaluationModule:
    """Load the metric ``name`` from this repository with ``evaluate.load``.

    ``kwargs`` go to ``evaluate.load`` (``experiment_id``, ``num_process``, ``process_id``,
    ``cache_dir``...). ``keep_in_memory`` defaults to True for a single process: predictions are
    then held in memory rather than in an Arrow file under ``$HF_HOME/metrics``, so two instances
    of one metric never contend for the same cache file.
    """
    script = metric_script(name)
    if kwargs.get("num_process", 1) == 1:
        kwargs.setdefault("keep_in_memory", True)
    return evaluate.load(str(script), **kwargs)


__all__ = [
    "METRICS_DIR",
    "METRIC_NAMES",
    "IMAGE_METRICS",
    "POSE_METRICS",
    "EXPRESSION_METRICS",
    "load_metric",
]
