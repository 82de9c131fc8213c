"""Training configuration: one validated dataclass per run, loadable from YAML, overridable from the
command line (``--key value``)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

MODELS = ("animo", "pirenderer")
SOURCE_GROUPS = ("basis", "frontal")
TARGET_GROUPS = ("frontal", "rotated")


@dataclass
class LossWeights:
    """Weights of the loss terms (0 turns a term off)."""

    l1: float = 1.0  # multi-scale L1 on the image (full, 1/2, 1/4)
    ssim: float = 0.0  # 1 - SSIM (pytorch-msssim)
    flow_smoothness: float = 0.0  # total variation of the flow
    alpha: float = 0.0  # L1 between the warped source alpha and the target alpha


@dataclass
class TrainConfig:
    """Everything that determines a training run.

    Attributes:
        model: ``"animo"`` (pose mapping, motion, warping and editing networks) or
            ``"pirenderer"`` (the PIRenderer-style baseline).
        dataset: a local Hub-layout folder or a Hub repo id; only its ``train`` split is read.
        output_dir: checkpoints, logs, sample grids and the exported weights go here.
        resolution: training image size (a multiple of the networks' downsampling, 16).
        styles: the styles to train on (``None``: every style in the data).
        source_groups / target_groups: which images may be the source and the target of a pair
            (both images of a pair are the same character in the same style).
        batch_size: pairs per step and process; gradient_accumulation_steps: steps per update.
        max_steps: optimizer updates in all.
        warp_only_fraction: the first part of training optimises only the warping path (the
            warped source against the target), as in the paper; then the whole model.
        learning_rate, betas: Adam, the paper's 1e-4 and (0.5, 0.999).
        loss: the loss weights.
        augment: colour jitter and a small scale/shift, applied to source and target alike.
        seed: seeds the models, the data order and the augmentation.
        num_workers: data-loader worker processes (0: decode in the training process).
        torch_threads: intra-op threads of the training process (``None``: torch's default). On a
            CPU shared with other work, 1 avoids threads waiting for each other.
        log_every, sample_every, checkpoint_every: in optimizer steps.
        keep_checkpoints: how many recent checkpoints to keep.
    """

    model: Literal["animo", "pirenderer"] = "animo"
    dataset: str = ""
    output_dir: str = "outputs/train"
    resolution: int = 128
    styles: tuple[str, ...] | None = None
    source_groups: tuple[str, ...] = ("basis",)
    target_groups: tuple[str, ...] = ("frontal", "rotated")
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_steps: int = 2000
    warp_only_fraction: float = 0.5
    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: LossWeights = field(default_factory=LossWeights)
    augment: bool = True
    seed: int = 0
    num_workers: int = 0
    torch_threads: int | None = None
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.loss, dict):
            self.loss = LossWeights(**self.loss)
        for name in ("styles", "source_groups", "target_groups", "betas"):
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        if self.model not in MODELS:
            _bad("model", self.model, f"one of {MODELS}")
        if not self.dataset:
            _bad("dataset", self.dataset, "a local Hub-layout folder or a Hub repo id")
        if not isinstance(self.resolution, int) or self.resolution < 16 or self.resolution % 16:
            _bad("resolution", self.resolution, "a multiple of 16, at least 16")
        for name in ("batch_size", "gradient_accumulation_steps", "max_steps", "keep_checkpoints"):
            _positive(name, getattr(self, name))
        for name in ("log_every", "sample_every", "checkpoint_every"):
            _positive(name, getattr(self, name))
        if self.torch_threads is not None:
            _positive("torch_threads", self.torch_threads)
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            _bad("num_workers", self.num_workers, "an integer >= 0")
        if not 0.0 <= self.warp_only_fraction < 1.0:
            _bad("warp_only_fraction", self.warp_only_fraction, "a number in [0, 1)")
        if not (0.0 < self.learning_rate < 1.0):
            _bad("learning_rate", self.learning_rate, "a number in (0, 1)")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            _bad("betas", self.betas, "two numbers in [0, 1)")
        for name, allowed in (("source_groups", SOURCE_GROUPS), ("target_groups", TARGET_GROUPS)):
            groups = getattr(self, name)
            if not groups or not set(groups) <= set(allowed):
                _bad(name, groups, f"a non-empty subset of {allowed}")
        for term in dataclasses.fields(LossWeights):
            weight = getattr(self.loss, term.name)
            if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
                _bad(f"loss.{term.name}", weight, "a finite number >= 0")
        if self.loss.l1 == 0 and self.loss.ssim == 0:
            _bad("loss", dataclasses.asdict(self.loss), "a non-zero l1 or ssim weight")

    @property
    def warp_only_steps(self) -> int:
        return int(self.max_steps * self.warp_only_fraction)

    def to_dict(self) -> dict[str, Any]:
        """JSON types only (lists, not tuples): comparable with a saved config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """The config in YAML file ``path``, with ``overrides`` (dotted keys for the loss, e.g.
        ``loss.ssim``) applied on top."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: not a readable YAML config ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(data)}")
        return cls.from_dict({**data, **overrides}, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> TrainConfig:
        data = dict(data)
        loss = dict(data.pop("loss", None) or {})
        for key in [k for k in data if k.startswith("loss.")]:
            loss[key.removeprefix("loss.")] = data.pop(key)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        loss_fields = {f.name for f in dataclasses.fields(LossWeights)}
        unknown += sorted(f"loss.{k}" for k in set(loss) - loss_fields)
        if unknown:
            raise ValueError(f"{where}: unknown config field(s) {unknown}")
        return cls(**data, loss=LossWeights(**loss))


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _bad(name, value, "a positive integer")


def _bad(name: str, value: Any, expected: str) -> None:
    raise ValueError(f"config {name} = {value!r}: expected {expected}")
