"""Train the pose regressor (``training.regressor``) with ``accelerate`` on single images of the
train split, and evaluate it on held-out identities (the test split).

    animeceleb-train-regressor --dataset outputs/animeceleb-500/hub [--max_steps 500 ...]
    animeceleb-train-regressor --config regressor.yaml --output_dir outputs/regressor
    accelerate launch -m training.train_regressor --config regressor.yaml  # several processes

Every image of the chosen groups (basis, frontal, rotated) and styles is a sample, labelled with
its pose; colour jitter only (a geometric augmentation would change the angle labels). The loss is
MSE (or smooth L1) on normalised targets (expressions as they are, angles / 20); Adam with a short
warm-up and a cosine decay. A run folder holds ``config.json``, ``checkpoints/step-NNNNNNN/``
(``accelerate`` state plus ``trainer_state.json``), ``metrics.jsonl`` (training records, and the
test-split evaluation every ``eval_every`` steps), ``evaluation.json`` / ``evaluation.md`` (the
final per-dimension errors on held-out identities) and ``weights/`` (``save_pretrained`` folder
with a model card). Running the same command again resumes from the last checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
import torch.nn.functional as F
import yaml
from accelerate import Accelerator, PartialState
from accelerate.utils import set_seed
from huggingface_hub import ModelCard, ModelCardData
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from transformers import ResNetForImageClassification

from animeceleb.pose import ANGLE_SLICE, EXPRESSION_DIM, POSE_DIM, POSE_NAMES
from animeceleb.sampling import GROUPS

from .data import REQUIRED_COLUMNS, SeededPairSampler, decode_rgba, network_input
from .regressor import (
    DEFAULT_DEPTHS,
    DEFAULT_EMBEDDING_SIZE,
    DEFAULT_HIDDEN_SIZES,
    DEFAULT_LAYER_TYPE,
    build_regressor,
    normalize_poses,
    pose_scale,
    predict_poses,
)
from .train import (
    STATE_FILE,
    TrainingError,
    export_weights,
    latest_checkpoint,
    prepare_run_dir,
    save_checkpoint,
)

logger = logging.getLogger("training")
LOSSES = ("mse", "smooth_l1")
SCHEDULES = ("cosine", "constant")
LAYER_TYPES = ("basic", "bottleneck")
# The targets on held-out identities.
ANGLE_TARGET_DEG = 2.0
EXPRESSION_TARGET = 0.1
SMOOTH_L1_BETA = 0.05  # in normalised units: 1° of angle, 0.05 of an expression


@dataclass
class RegressorConfig:
    """Everything that determines a regressor training run.

    Attributes:
        dataset: a local Hub-layout folder or a Hub repo id; its ``train`` split trains, its
            ``test`` split (held-out identities) evaluates.
        output_dir: checkpoints, logs, evaluation and the exported weights go here.
        resolution: training image size (a multiple of 16, at least 32); stored in the model.
        styles: the styles to train and evaluate on (``None``: every style in the data).
        groups: the image groups to train and evaluate on (basis, frontal, rotated).
        embedding_size, hidden_sizes, depths, layer_type: the ResNet (``ResNetConfig``).
        batch_size: images per step and process; max_steps: optimizer updates in all.
        learning_rate, betas: Adam; lr_schedule: ``cosine`` (to 0 at ``max_steps``) or
            ``constant``, after a linear warm-up of ``warmup_steps``.
        loss: ``mse`` or ``smooth_l1`` on the normalised targets.
        color_jitter: brightness, contrast and saturation x U(1 - j, 1 + j) (0: off);
            hue_jitter: hue rotation by U(-h, h) turns (0: off).
        seed: seeds the model, the data order and the jitter.
        torch_threads: torch's intra-op threads in each training process (0: torch's default,
            one per core). 1 by default: on the busy 2-core machine the default model trained
            at ~100 samples/s on one thread and at ~16 on two (the thread pool waits for a core
            that another process holds).
        num_workers: data-loader worker processes (0: decode in the training process; 1, the
            default, decodes on the other core while the step runs).
        log_every, checkpoint_every: in steps; eval_every: evaluate on the test split every so
            many steps (0: only at the end); eval_batch_size: images per evaluation batch.
        keep_checkpoints: how many recent checkpoints to keep.
    """

    dataset: str = ""
    output_dir: str = "outputs/regressor"
    resolution: int = 128
    styles: tuple[str, ...] | None = None
    groups: tuple[str, ...] = GROUPS
    embedding_size: int = DEFAULT_EMBEDDING_SIZE
    hidden_sizes: tuple[int, ...] = DEFAULT_HIDDEN_SIZES
    depths: tuple[int, ...] = DEFAULT_DEPTHS
    layer_type: str = DEFAULT_LAYER_TYPE
    batch_size: int = 32
    max_steps: int = 20_000
    learning_rate: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: str = "cosine"
    warmup_steps: int = 200
    loss: str = "mse"
    color_jitter: float = 0.15
    hue_jitter: float = 0.05
    seed: int = 0
    torch_threads: int = 1
    num_workers: int = 1
    log_every: int = 20
    eval_every: int = 2000
    eval_batch_size: int = 64
    checkpoint_every: int = 500
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        for name in ("styles", "groups", "hidden_sizes", "depths", "betas"):
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        if not isinstance(self.dataset, str) or not self.dataset:
            _bad("dataset", self.dataset, "a local Hub-layout folder or a Hub repo id")
        if not _int(self.resolution) or self.resolution < 32 or self.resolution % 16:
            _bad("resolution", self.resolution, "a multiple of 16, at least 32")
        if self.styles is not None and (
            not isinstance(self.styles, tuple)
            or not self.styles
            or not all(isinstance(s, str) for s in self.styles)
        ):
            _bad("styles", self.styles, "null (every style) or a non-empty list of style names")
        if (
            not isinstance(self.groups, tuple)
            or not self.groups
            or not set(self.groups) <= set(GROUPS)
        ):
            _bad("groups", self.groups, f"a non-empty subset of {GROUPS}")
        _positive("embedding_size", self.embedding_size)
        for name in ("hidden_sizes", "depths"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value or not all(_int(v) for v in value):
                _bad(name, value, "a non-empty list of positive integers")
            if not all(v >= 1 for v in value):
                _bad(name, value, "a non-empty list of positive integers")
        if len(self.hidden_sizes) != len(self.depths):
            _bad("depths", self.depths, f"one depth per hidden size ({len(self.hidden_sizes)})")
        if self.layer_type not in LAYER_TYPES:
            _bad("layer_type", self.layer_type, f"one of {LAYER_TYPES}")
        for name in ("batch_size", "max_steps", "log_every", "checkpoint_every"):
            _positive(name, getattr(self, name))
        for name in ("eval_batch_size", "keep_checkpoints"):
            _positive(name, getattr(self, name))
        for name in ("warmup_steps", "eval_every", "num_workers", "seed", "torch_threads"):
            if not _int(getattr(self, name)) or getattr(self, name) < 0:
                _bad(name, getattr(self, name), "an integer >= 0")
        if not _number(self.learning_rate) or not 0.0 < self.learning_rate < 1.0:
            _bad("learning_rate", self.learning_rate, "a number in (0, 1)")
        if (
            not isinstance(self.betas, tuple)
            or len(self.betas) != 2
            or not all(_number(b) and 0.0 <= b < 1.0 for b in self.betas)
        ):
            _bad("betas", self.betas, "two numbers in [0, 1)")
        if self.lr_schedule not in SCHEDULES:
            _bad("lr_schedule", self.lr_schedule, f"one of {SCHEDULES}")
        if self.loss not in LOSSES:
            _bad("loss", self.loss, f"one of {LOSSES}")
        if not _number(self.color_jitter) or not 0.0 <= self.color_jitter <= 0.5:
            _bad("color_jitter", self.color_jitter, "a number in [0, 0.5]")
        if not _number(self.hue_jitter) or not 0.0 <= self.hue_jitter <= 0.5:
            _bad("hue_jitter", self.hue_jitter, "a number in [0, 0.5] (turns)")

    def to_dict(self) -> dict[str, Any]:
        """JSON types only (lists, not tuples): comparable with a saved config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> RegressorConfig:
        """The config in YAML file ``path``, with ``overrides`` applied on top."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: not a readable YAML config ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(data)}")
        return cls.from_dict({**data, **overrides}, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> RegressorConfig:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"{where}: unknown config field(s) {unknown}")
        return cls(**data)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(name: str, value: Any) -> None:
    if not _int(value) or value < 1:
        _bad(name, value, "a positive integer")


def _bad(name: str, value: Any, expected: str) -> None:
    raise ValueError(f"config {name} = {value!r}: expected {expected}")


# ----------------------------------------------------------------------------------------------
# Data


def load_split(dataset: str, split: str) -> datasets.Dataset:
    """Split ``split`` of ``dataset`` (a local Hub-layout folder or a repo id) with images left
    encoded; ``ValueError`` naming the dataset when the split or an AnimeCeleb column is missing."""
    try:
        splits = datasets.load_dataset(dataset)
    except FileNotFoundError as error:
        raise ValueError(f"dataset {dataset!r}: not found ({error})") from None
    if split not in splits:
        raise ValueError(f"dataset {dataset!r}: no {split} split (splits: {sorted(splits)})")
    rows = splits[split]
    for column, kinds in REQUIRED_COLUMNS.items():
        if not isinstance(rows.features.get(column), kinds):
            raise ValueError(
                f"dataset {dataset!r}: column {column!r} is {rows.features.get(column)!r}; "
                "expected the AnimeCeleb schema (image, pose, model_id, style, group)"
            )
    return rows.cast_column("image", datasets.Image(decode=False))


def select_rows(
    rows: datasets.Dataset, styles: Sequence[str] | None, groups: Sequence[str]
) -> list[int]:
    """The rows of the given styles (``None``: all) and groups; ``ValueError`` for an unknown
    style or when none is left."""
    style_names = rows.features["style"].names
    group_names = rows.features["group"].names
    wanted_styles = set(styles or style_names)
    unknown = wanted_styles - set(style_names)
    if unknown:
        raise ValueError(f"styles {sorted(unknown)}: not in the dataset ({style_names})")
    columns = rows.select_columns(["style", "group"]).to_dict()
    selected = [
        i
        for i, (style, group) in enumerate(zip(columns["style"], columns["group"], strict=True))
        if style_names[style] in wanted_styles and group_names[group] in groups
    ]
    if not selected:
        raise ValueError(
            f"no images of styles {sorted(wanted_styles)} in groups {list(groups)} "
            f"among {len(rows)} rows"
        )
    return selected


def colour_jitter(
    rgba: torch.Tensor, generator: torch.Generator, strength: float, hue: float
) -> torch.Tensor:
    """Colour jitter of one (4, H, W) RGBA image in [0, 1] (no geometric change; alpha kept): hue
    rotation by U(-hue, hue) turns, then brightness, contrast and saturation x U(1 - s, 1 + s)."""
    factors = 1.0 + strength * (2 * torch.rand(3, generator=generator) - 1)
    angle = float(2 * math.pi * hue * (2 * torch.rand((), generator=generator) - 1))
    rgb, alpha = rgba[:3], rgba[3:]
    if angle:
        rgb = torch.einsum("ij,jhw->ihw", _hue_matrix(angle), rgb)
    rgb = rgb * factors[0]
    mean = rgb.mean()
    rgb = (rgb - mean) * factors[1] + mean
    grey = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    rgb = ((rgb - grey) * factors[2] + grey).clamp(0, 1)
    return torch.cat([rgb, alpha])


_LUMA = torch.tensor([[0.213, 0.715, 0.072]] * 3)
_HUE_COS = torch.eye(3) - _LUMA
_HUE_SIN = torch.tensor([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])


def _hue_matrix(angle: float) -> torch.Tensor:
    """The luminance-preserving hue rotation by ``angle`` radians (the CSS ``hue-rotate``)."""
    return _LUMA + math.cos(angle) * _HUE_COS + math.sin(angle) * _HUE_SIN


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch ops on one thread: per-image ops are too small to gain from a thread pool, and
    on a busy CPU waiting for the pool's second thread made them 100x slower (data-loader
    workers are single-threaded already)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class PoseImageDataset(Dataset):
    """Items are ``(index, sample seed)`` keys (:class:`training.data.SeededPairSampler` streams
    them); each gives ``image`` (3, H, W) RGB over white in [-1, 1] and ``pose`` (20,) in pose
    units. The jitter is a pure function of the seed."""

    def __init__(
        self,
        rows: datasets.Dataset,
        indices: Sequence[int],
        resolution: int,
        color_jitter: float = 0.0,
        hue_jitter: float = 0.0,
    ) -> None:
        self.rows = rows
        self.indices = list(indices)
        self.size = resolution
        self.color_jitter = color_jitter
        self.hue_jitter = hue_jitter

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        with _single_thread():
            return self._item(*key)

    def _item(self, index: int, seed: int) -> dict[str, torch.Tensor]:
        row = self.rows[self.indices[index]]
        rgba = decode_rgba(row["image"]["bytes"], self.size)
        if self.color_jitter or self.hue_jitter:
            generator = torch.Generator().manual_seed(seed)
            rgba = colour_jitter(rgba, generator, self.color_jitter, self.hue_jitter)
        image, _ = network_input(rgba)
        pose = torch.tensor(row["pose"], dtype=torch.float32)
        if pose.shape != (POSE_DIM,):
            raise ValueError(f"row {self.indices[index]}: pose has {tuple(pose.shape)} values")
        return {"image": image, "pose": pose}


# ----------------------------------------------------------------------------------------------
# Evaluation


def evaluate_regressor(
    model: ResNetForImageClassification,
    dataset: str | datasets.Dataset,
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
        dataset: a local Hub-layout folder or repo id (its ``split`` split is read), or the rows
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
    if isinstance(dataset, str):
        rows = load_split(dataset, split)
        name = dataset
    else:
        rows = dataset.cast_column("image", datasets.Image(decode=False))
        name = None
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
    json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    md_path.write_text("# Pose regressor evaluation\n\n" + evaluation_markdown(results), "utf-8")
    return json_path, md_path


# ----------------------------------------------------------------------------------------------
# Model card


def regressor_model_card(
    model: ResNetForImageClassification,
    config: RegressorConfig,
    *,
    steps: int,
    hardware: str,
    evaluation: dict[str, Any] | None = None,
) -> ModelCard:
    """The model card of a trained regressor: usage, the pose dims and their scale, the
    architecture, the training run and (when given) the evaluation of :func:`evaluate_regressor`.
    """
    local = Path(config.dataset).exists()
    card_data = ModelCardData(
        library_name="transformers",
        license="apache-2.0",
        tags=["animeceleb", "anime", "head-pose-estimation", "regression", "resnet", "cpu"],
        datasets=None if local else [config.dataset],
        inference=False,
    )
    parameters = sum(p.numel() for p in model.parameters())
    c = model.config
    if local:
        data = "a local AnimeCeleb-HF build"
    else:
        data = f"[{config.dataset}](https://huggingface.co/datasets/{config.dataset})"
    if evaluation is None:
        evaluated = "Not evaluated yet: run `evaluate_regressor` on the test split."
    else:
        evaluated = evaluation_markdown(evaluation)
    styles = ", ".join(config.styles) if config.styles else "all"
    body = f"""
# AnimeCeleb pose regressor

Reads the 20-d AnimeCeleb pose vector back from an anime head image: 17 expression values in
[0, 1] and yaw, pitch, roll in degrees ([-20°, 20°] in the data). Used to measure the head-angle
and expression error of generated frames (AniMo evaluation). A plain `transformers`
`ResNetForImageClassification` with 20 regression outputs, trained from scratch; safetensors
weights, no remote code.

## Usage

```python
from training.regressor import load_regressor, predict_poses  # pip install "animeceleb-hf[train]"

model = load_regressor("path/or/repo-id")
poses = predict_poses(model, images)  # images: (N, 3, H, W) RGB over white in [-1, 1]
```

Without this project: `ResNetForImageClassification.from_pretrained(...)`; the logits are the
normalised pose, `pose = logits * config.pose_scale` (1 for the expressions, 20 for the angles),
clamped to `config.pose_range`; the outputs are named by `config.id2label`. Images are resized to
`config.image_size` ({c.image_size}²).

## Model

- ResNet with {c.layer_type} blocks: embedding size {c.embedding_size}, hidden sizes
  {list(c.hidden_sizes)}, depths {list(c.depths)}.
- {parameters:,} parameters; input {c.image_size}².

## Training

- Data: {data}, `train` split (training identities only).
- Images: groups {", ".join(config.groups)}; styles: {styles}.
- Augmentation: colour jitter {config.color_jitter}, hue jitter {config.hue_jitter} turns; no
  geometric augmentation (it would change the angle labels).
- Objective: {config.loss} on the normalised pose (angles / 20).
- Optimiser: Adam, learning rate {config.learning_rate}, betas {list(config.betas)},
  {config.lr_schedule} schedule after {config.warmup_steps} warm-up steps.
- Batch size {config.batch_size}; {steps} steps; seed {config.seed}.
- Hardware: {hardware}.

## Evaluation

Mean absolute error on held-out identities (the `test` split).

{evaluated}
"""
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


# ----------------------------------------------------------------------------------------------
# Training


class _Exportable:
    """Adapts a transformers model to ``training.train.export_weights`` (which calls ``save``):
    ``save_pretrained`` plus the model card."""

    def __init__(self, model: ResNetForImageClassification, card: ModelCard) -> None:
        self.model, self.card = model, card

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.card.save(Path(folder) / "README.md")


def regression_loss(outputs: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """``mse`` or ``smooth_l1`` (beta 0.05) between normalised outputs and targets (N, 20)."""
    if kind == "mse":
        return F.mse_loss(outputs, targets)
    return F.smooth_l1_loss(outputs, targets, beta=SMOOTH_L1_BETA)


def learning_rate_at(config: RegressorConfig, step: int) -> float:
    """The learning rate of update ``step`` (0-based): linear warm-up, then constant or cosine
    decay to 0 at ``max_steps``. A pure function of the step, so resuming needs no state."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.learning_rate
    span = max(config.max_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))


class RegressorTrainer:
    """One run: the accelerator, the image stream, the regressor and its optimizer, resumed from
    the run folder's last checkpoint when there is one."""

    def __init__(self, config: RegressorConfig) -> None:
        self.config = config
        self.out = Path(config.output_dir)
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        self.accelerator = Accelerator()
        if self.accelerator.is_main_process:
            prepare_run_dir(self.out, config)
        self.accelerator.wait_for_everyone()
        set_seed(config.seed)

        train_rows = load_split(config.dataset, "train")
        indices = select_rows(train_rows, config.styles, config.groups)
        self.dataset = PoseImageDataset(
            train_rows, indices, config.resolution, config.color_jitter, config.hue_jitter
        )
        loader = DataLoader(
            self.dataset,
            batch_size=config.batch_size,
            sampler=SeededPairSampler(len(self.dataset), config.seed),
            num_workers=config.num_workers,
            drop_last=True,
        )
        model = build_regressor(
            embedding_size=config.embedding_size,
            hidden_sizes=config.hidden_sizes,
            depths=config.depths,
            layer_type=config.layer_type,
            image_size=config.resolution,
            seed=config.seed,
        )
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.learning_rate, betas=config.betas
        )
        self.model, self.optimizer, loader = self.accelerator.prepare(model, optimizer, loader)

        self.step = 0
        checkpoint = latest_checkpoint(self.out)
        if checkpoint is not None:
            self.accelerator.load_state(str(checkpoint))
            self.step = json.loads((checkpoint / STATE_FILE).read_text())["step"]
            loader = self.accelerator.skip_first_batches(loader, self.step)
            logger.info("resumed from %s at step %d", checkpoint, self.step)
        self.batches = iter(loader)

    @property
    def unwrapped(self) -> ResNetForImageClassification:
        return self.accelerator.unwrap_model(self.model)

    def train_step(self) -> dict[str, float]:
        """One optimizer update; the loss, learning rate and the batch's mean angle (degrees)
        and expression errors, averaged over processes. ``TrainingError`` if the loss is not
        finite."""
        self.model.train()
        lr = learning_rate_at(self.config, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = next(self.batches)
        outputs = self.model(pixel_values=batch["image"]).logits
        targets = normalize_poses(batch["pose"], self.unwrapped)
        loss = regression_loss(outputs, targets, self.config.loss)
        self.accelerator.backward(loss)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1
        with torch.no_grad():
            errors = ((outputs.detach() - targets).abs() * pose_scale(self.unwrapped)).mean(0)
            terms = {
                "loss": loss.detach(),
                "angle_mae_deg": errors[ANGLE_SLICE].mean(),
                "expression_mae": errors[:EXPRESSION_DIM].mean(),
            }
        values = {k: float(self.accelerator.reduce(v, "mean")) for k, v in terms.items()}
        if not all(math.isfinite(v) for v in values.values()):
            last = latest_checkpoint(self.out)
            raise TrainingError(
                f"step {self.step}: non-finite loss {values}; stopped, the last good checkpoint "
                f"is {last or 'none (no checkpoint yet)'}"
            )
        return {**values, "lr": lr}

    def evaluate(self, progress: bool = False) -> dict[str, Any]:
        """:func:`evaluate_regressor` on the test split (the config's styles and groups)."""
        return evaluate_regressor(
            self.unwrapped,
            self.config.dataset,
            "test",
            styles=self.config.styles,
            groups=self.config.groups,
            batch_size=self.config.eval_batch_size,
            num_workers=self.config.num_workers,
            progress=progress,
        )

    def hardware(self) -> str:
        device = self.accelerator.device
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
        return (
            f"{self.accelerator.num_processes} process(es) on {device.type} ({name}), "
            f"{torch.get_num_threads()} threads each, torch {torch.__version__}"
        )

    def save(self, evaluation: dict[str, Any] | None = None) -> None:
        """A checkpoint, and the weights with their model card in ``weights/``."""
        save_checkpoint(self.accelerator, self.out, self.step, self.config.keep_checkpoints)
        if self.accelerator.is_main_process:
            card = regressor_model_card(
                self.unwrapped,
                self.config,
                steps=self.step,
                hardware=self.hardware(),
                evaluation=evaluation,
            )
            export_weights(_Exportable(self.unwrapped, card), self.out / "weights")
        self.accelerator.wait_for_everyone()

    def run(self) -> Path:
        """Train to ``max_steps`` (logging, evaluating and checkpointing on the way), evaluate on
        the test split, write ``evaluation.json`` / ``.md`` and export the weights; returns the
        folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        log = (self.out / "metrics.jsonl").open("a", encoding="utf-8") if main_process else None
        bar = tqdm(
            total=config.max_steps, initial=self.step, disable=not main_process, desc="regressor"
        )
        started, samples = time.perf_counter(), 0
        try:
            while self.step < config.max_steps:
                values = self.train_step()
                samples += config.batch_size * self.accelerator.num_processes
                bar.update(1)
                last = self.step == config.max_steps
                if log is not None and (self.step % config.log_every == 0 or last):
                    rate = samples / max(time.perf_counter() - started, 1e-9)
                    record = {"step": self.step, **values, "samples_per_s": round(rate, 2)}
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    bar.set_postfix(loss=f"{values['loss']:.4f}")
                if config.eval_every and self.step % config.eval_every == 0 and not last:
                    if main_process:
                        results = self.evaluate()
                        log.write(json.dumps(_eval_record(self.step, results)) + "\n")
                        log.flush()
                    self.accelerator.wait_for_everyone()
                if self.step % config.checkpoint_every == 0 and not last:
                    self.save()
            evaluation = None
            if main_process:
                evaluation = self.evaluate(progress=True)
                log.write(json.dumps(_eval_record(self.step, evaluation)) + "\n")
                write_evaluation(evaluation, self.out)
            self.save(evaluation)
        finally:
            bar.close()
            if log is not None:
                log.close()
        self.accelerator.end_training()
        return self.out / "weights"


def _eval_record(step: int, results: dict[str, Any]) -> dict[str, Any]:
    keys = ("split", "num_images", "angle_mae_deg", "max_angle_mae_deg", "expression_mae")
    return {"step": step, "eval": {k: results[k] for k in keys}}


def train_regressor(config: RegressorConfig) -> Path:
    """Run (or resume) training and the final evaluation; returns the exported weights' folder."""
    return RegressorTrainer(config).run()


def parse_args(argv: list[str] | None = None) -> RegressorConfig:
    """``--config FILE`` and ``--field value`` overrides (values read as YAML: numbers, lists)."""
    parser = argparse.ArgumentParser(
        prog="animeceleb-train-regressor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", type=Path, help="a YAML file of RegressorConfig fields")
    known, rest = parser.parse_known_args(argv)
    if len(rest) % 2 or not all(key.startswith("--") for key in rest[::2]):
        raise ValueError(f"overrides: expected --field value pairs, got {rest}")
    overrides = {
        key[2:].replace("-", "_"): yaml.safe_load(value)
        for key, value in zip(rest[::2], rest[1::2], strict=True)
    }
    if known.config is not None:
        return RegressorConfig.from_yaml(known.config, **overrides)
    return RegressorConfig.from_dict(overrides, where="command line")


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = parse_args(argv)
        weights = train_regressor(config)
    except (ValueError, OSError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if PartialState().is_main_process:
        print(f"weights written to {weights}")
        print(f"evaluation written to {Path(config.output_dir) / 'evaluation.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
