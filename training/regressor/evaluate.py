"""Evaluation of the pose regressor (:mod:`.modeling_regressor`) on held-out identities: the
per-dimension errors against the issue's targets and the best constant guess, as JSON and as
Markdown (``evaluation.json`` / ``evaluation.md``, and the model card's evaluation section)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import ResNetForImageClassification

from animeceleb.pose import ANGLE_SLICE, EXPRESSION_DIM, POSE_NAMES
from animeceleb.sampling import GROUPS
from dataset_builder.files import write_atomic

from ..data import PoseImageDataset, load_split, select_rows
from .modeling_regressor import predict_poses

# The targets on held-out identities.
ANGLE_TARGET_DEG = 2.0
EXPRESSION_TARGET = 0.1
# The figures of an evaluation that go into the training log.
RECORD_KEYS = ("split", "num_images", "angle_mae_deg", "max_angle_mae_deg", "expression_mae")


def evaluate_regressor(
    model: ResNetForImageClassification,
    dataset: str | Sequence[str] | datasets.Dataset,
    split: str = "test",
    *,
    styles: Sequence[str] | None = None,
    groups: Sequence[str] = GROUPS,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Per-dimension mean absolute error of ``model`` on split ``split`` of ``dataset`` (the test
    split holds the held-out identities), at the model's ``image_size``.

    Args:
        dataset: a local Hub-layout folder or repo id, or several (their ``split`` splits
            are read, concatenated), or the rows
            themselves as a ``datasets.Dataset`` (``split`` then only labels the results).
        styles, groups: the images to evaluate (``None`` styles: every style).

    Returns a JSON-ready dict: ``split``, ``num_images``, ``num_identities``, ``resolution``,
    ``per_dim_mae`` (pose name -> MAE; angles in degrees, expressions in [0, 1] units),
    ``angle_mae_deg`` and ``expression_mae`` (means over the 3 angle / 17 expression dims),
    ``max_angle_mae_deg``, ``active_expression_mae`` (the MAE over the expression entries whose
    true value is > 0: most entries are 0, so the plain mean rewards predicting 0; None when no
    entry is active), ``baseline`` (the same errors for the best constant guess, the split's
    per-dim median: what the model must beat), ``by_style`` and ``by_group`` (images, angle and
    expression MAE), ``targets`` and ``meets_targets`` (every angle dim within 2° and the
    expression mean within 0.1).
    """
    if isinstance(dataset, datasets.Dataset):
        rows = dataset.cast_column("image", datasets.Image(decode=False))
        name = None
    else:
        rows = load_split(dataset, split)
        name = dataset
    indices = select_rows(rows, styles, groups)
    size = int(model.config.image_size)
    data = PoseImageDataset(rows, indices, size)
    loader = DataLoader(
        data,
        batch_size=batch_size,
        sampler=[(i, 0) for i in range(len(data))],
        num_workers=num_workers,
    )
    predictions, targets = [], []
    for batch in tqdm(loader, desc=f"evaluate {split}", disable=not progress, leave=False):
        predictions.append(predict_poses(model, batch["image"], batch_size=batch_size).cpu())
        targets.append(batch["pose"])
    predicted = torch.cat(predictions).double().numpy()
    truth = torch.cat(targets).double().numpy()
    errors = np.abs(predicted - truth)
    baseline = np.abs(np.median(truth, axis=0, keepdims=True) - truth)

    meta = rows.select(indices).select_columns(["model_id", "style", "group"]).to_dict()
    style_names, group_names = rows.features["style"].names, rows.features["group"].names
    by_style = _grouped(errors, [style_names[s] for s in meta["style"]])
    by_group = _grouped(errors, [group_names[g] for g in meta["group"]])
    active = truth[:, :EXPRESSION_DIM] > 0
    summary = _summary(errors, active)
    results = {
        "dataset": name,
        "split": split,
        "num_images": len(indices),
        "num_identities": len(set(meta["model_id"])),
        "resolution": size,
        "per_dim_mae": summary.pop("per_dim_mae"),
        **summary,
        "baseline": _summary(baseline, active),
        "by_style": by_style,
        "by_group": by_group,
        "targets": {"angle_mae_deg": ANGLE_TARGET_DEG, "expression_mae": EXPRESSION_TARGET},
    }
    results["meets_targets"] = bool(
        results["max_angle_mae_deg"] <= ANGLE_TARGET_DEG
        and results["expression_mae"] <= EXPRESSION_TARGET
    )
    return results


def _summary(errors: np.ndarray, active: np.ndarray) -> dict[str, Any]:
    per_dim = errors.mean(axis=0)
    expression_errors = errors[:, :EXPRESSION_DIM][active]
    return {
        "per_dim_mae": {name: float(v) for name, v in zip(POSE_NAMES, per_dim, strict=True)},
        "angle_mae_deg": float(per_dim[ANGLE_SLICE].mean()),
        "expression_mae": float(per_dim[:EXPRESSION_DIM].mean()),
        "max_angle_mae_deg": float(per_dim[ANGLE_SLICE].max()),
        "active_expression_mae": float(expression_errors.mean()) if active.any() else None,
    }


def _grouped(errors: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for label in sorted(set(labels)):
        mask = np.array([x == label for x in labels])
        per_dim = errors[mask].mean(axis=0)
        out[label] = {
            "num_images": int(mask.sum()),
            "angle_mae_deg": float(per_dim[ANGLE_SLICE].mean()),
            "expression_mae": float(per_dim[:EXPRESSION_DIM].mean()),
        }
    return out


WEAK_MARGIN = 0.9  # an error above this share of the best constant guess's says little


def weak_expression_note(results: dict[str, Any]) -> list[str]:
    """A warning line when the expression error is barely below the best constant guess's (a
    target can be met that way while the expressions are hardly read)."""
    error, guess = results["expression_mae"], results["baseline"]["expression_mae"]
    if error <= WEAK_MARGIN * guess:
        return []
    return [
        f"- **Expressions are barely read**: {error:.4f} is {error / guess:.0%} of the best "
        "constant guess's error, so expression errors measured through this model are weak "
        "evidence."
    ]


def evaluation_markdown(results: dict[str, Any]) -> str:
    """The results of :func:`evaluate_regressor` as Markdown: the summary against the targets,
    the per-dimension table (with the best-constant baseline) and the per-style / group means."""
    verdict = "meets" if results["meets_targets"] else "does not meet"
    base = results["baseline"]
    lines = [
        f"Split `{results['split']}`: {results['num_images']} images, "
        f"{results['num_identities']} identities (none seen in training), "
        f"at {results['resolution']}².",
        "",
        f"- Mean angle error: **{results['angle_mae_deg']:.3f}°**, worst angle "
        f"{results['max_angle_mae_deg']:.3f}° (target ≤ {results['targets']['angle_mae_deg']}° "
        f"per angle; best constant guess {base['angle_mae_deg']:.3f}°).",
        f"- Mean expression error: **{results['expression_mae']:.4f}** "
        f"(target ≤ {results['targets']['expression_mae']}; best constant guess "
        f"{base['expression_mae']:.4f}).",
        f"- Expression error where the expression is on (true value > 0): "
        f"{_figure(results['active_expression_mae'])} "
        f"(best constant guess {_figure(base['active_expression_mae'])}).",
        f"- The model {verdict} the targets. The best constant guess is the split's per-dim "
        "median.",
        *weak_expression_note(results),
        "",
        "| dim | unit | MAE | best-constant MAE |",
        "|---|---|---|---|",
    ]
    for i, name in enumerate(POSE_NAMES):
        unit = "degrees" if i >= EXPRESSION_DIM else "[0, 1]"
        lines.append(
            f"| {name} | {unit} | {results['per_dim_mae'][name]:.4f} | "
            f"{results['baseline']['per_dim_mae'][name]:.4f} |"
        )
    for title, key in (("style", "by_style"), ("group", "by_group")):
        lines += ["", f"| {title} | images | angle MAE (°) | expression MAE |", "|---|---|---|---|"]
        for label, row in results[key].items():
            lines.append(
                f"| {label} | {row['num_images']} | {row['angle_mae_deg']:.3f} | "
                f"{row['expression_mae']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def write_evaluation(results: dict[str, Any], folder: str | Path) -> tuple[Path, Path]:
    """``evaluation.json`` and ``evaluation.md`` in ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "evaluation.json", folder / "evaluation.md"
    write_atomic(json_path, json.dumps(results, indent=1) + "\n")
    write_atomic(md_path, "# Pose regressor evaluation\n\n" + evaluation_markdown(results))
    return json_path, md_path


def evaluation_record(step: int, results: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.jsonl`` record of an evaluation at ``step``: its headline figures."""
    return {"step": step, "eval": {k: results[k] for k in RECORD_KEYS}}
