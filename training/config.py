"""Run configs: one validated dataclass per run, loadable from YAML, overridable from the command
line (``--key value``). :class:`RunConfig` is what every run config shares (loading, the fields
every trainer reads and their checks); :class:`TrainConfig` is AniMo's."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn, TypeVar

import yaml

from animo_hf.lora import ADAPTED_COMPONENTS
from animo_hf.models.layers import WARP_INTERPOLATIONS

MODELS = ("animo", "pirenderer")
LR_SCHEDULES = ("constant", "cosine")
SOURCE_GROUPS = ("basis", "frontal")
TARGET_GROUPS = ("frontal", "rotated")
Config = TypeVar("Config", bound="RunConfig")


def config_error(name: str, value: Any, expected: str) -> NoReturn:
    """Raise the one-line ``ValueError`` of a config field out of range."""
    raise ValueError(f"config {name} = {value!r}: expected {expected}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a finite float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(name: str, value: Any) -> None:
    if not is_int(value) or value < 1:
        config_error(name, value, "a positive integer")


def check_non_negative(name: str, value: Any) -> None:
    if not is_int(value) or value < 0:
        config_error(name, value, "an integer >= 0")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        config_error(name, value, "true or false")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        config_error(name, value, f"one of {tuple(choices)}")


def check_subset(name: str, value: Any, allowed: Sequence[str]) -> None:
    """``value`` is a non-empty tuple of names from ``allowed``."""
    if not isinstance(value, tuple) or not value or not set(value) <= set(allowed):
        config_error(name, value, f"a non-empty subset of {tuple(allowed)}")


class RunConfig:
    """What every run config shares. A subclass is a ``@dataclass`` that declares the fields below
    (with its own defaults and docs) and extends :meth:`validate`; lists read from YAML become
    tuples, and the fields named in ``NESTED`` are dataclasses of their own, given as mappings or
    as dotted keys (``loss.ssim``).

    Fields every run config has: ``dataset`` (a local Hub-layout folder or a Hub repo id, or a
    list of them: their splits concatenated),
    ``output_dir``, ``resolution`` (a multiple of 16, at least ``MIN_RESOLUTION``), ``styles``
    (``None``: every style), ``batch_size``, ``max_steps``, ``learning_rate`` and ``betas`` (Adam),
    ``seed``, ``num_workers`` (data-loader worker processes; 0: decode in the training process),
    ``torch_threads`` (intra-op threads of each training process; ``None``: torch's default, one
    per core; on a CPU shared with other work, 1 avoids threads waiting for each other),
    ``log_every``, ``checkpoint_every`` (in steps) and ``keep_checkpoints``; the learning-rate
    schedule (:func:`learning_rate_at`): ``lr_schedule`` (``constant`` or ``cosine``),
    ``warmup_steps`` and ``decay_steps`` (``None``: the cosine spans every step after the
    warm-up; N: the rate stays constant until the last N steps, then decays: a cool-down that a
    constant-rate run may take on when it is resumed). The schedule begins at
    :attr:`schedule_start` (0 here; a subclass may keep its first steps at the full rate).
    """

    NESTED: ClassVar[dict[str, type]] = {}
    MIN_RESOLUTION: ClassVar[int] = 16

    dataset: str | tuple[str, ...]
    output_dir: str
    resolution: int
    styles: tuple[str, ...] | None
    batch_size: int
    max_steps: int
    learning_rate: float
    betas: tuple[float, float]
    lr_schedule: str
    warmup_steps: int
    decay_steps: int | None
    seed: int
    num_workers: int
    torch_threads: int | None
    log_every: int
    checkpoint_every: int
    keep_checkpoints: int

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, list):
                setattr(self, item.name, tuple(value))
            elif item.name in self.NESTED and isinstance(value, dict):
                setattr(self, item.name, self.NESTED[item.name](**value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range (subclasses check
        their own fields after these)."""
        names = (self.dataset,) if isinstance(self.dataset, str) else self.dataset
        if (
            not isinstance(names, tuple)
            or not names
            or not all(isinstance(name, str) and name for name in names)
        ):
            config_error(
                "dataset", self.dataset, "a local Hub-layout folder or a Hub repo id, or a list"
            )
        resolution, least = self.resolution, self.MIN_RESOLUTION
        if not is_int(resolution) or resolution < least or resolution % 16:
            config_error("resolution", resolution, f"a multiple of 16, at least {least}")
        if self.styles is not None and (
            not isinstance(self.styles, tuple)
            or not self.styles
            or not all(isinstance(s, str) for s in self.styles)
        ):
            config_error("styles", self.styles, "null (every style) or a non-empty list of names")
        for name in ("batch_size", "max_steps", "log_every", "checkpoint_every"):
            check_positive(name, getattr(self, name))
        check_positive("keep_checkpoints", self.keep_checkpoints)
        check_non_negative("seed", self.seed)
        check_non_negative("num_workers", self.num_workers)
        if self.torch_threads is not None:
            check_positive("torch_threads", self.torch_threads)
        if not is_number(self.learning_rate) or not 0.0 < self.learning_rate < 1.0:
            config_error("learning_rate", self.learning_rate, "a number in (0, 1)")
        if (
            not isinstance(self.betas, tuple)
            or len(self.betas) != 2
            or not all(is_number(b) and 0.0 <= b < 1.0 for b in self.betas)
        ):
            config_error("betas", self.betas, "two numbers in [0, 1)")
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_non_negative("warmup_steps", self.warmup_steps)
        if self.decay_steps is not None:
            check_positive("decay_steps", self.decay_steps)
            if self.schedule_start + self.warmup_steps + self.decay_steps > self.max_steps:
                room = self.max_steps - self.schedule_start - self.warmup_steps
                config_error(
                    "decay_steps", self.decay_steps, f"at most {room} (max - warm-up - start)"
                )

    @property
    def schedule_start(self) -> int:
        """The step at which the learning-rate schedule (its warm-up) begins."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        """JSON types only (lists, not tuples): comparable with a saved config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_yaml(cls: type[Config], path: str | Path, **overrides: Any) -> Config:
        """The config in YAML file ``path``, with ``overrides`` (dotted keys for nested fields,
        e.g. ``loss.ssim``) applied on top."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: not a readable YAML config ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(data)}")
        return cls.from_dict({**data, **overrides}, where=str(path))

    @classmethod
    def from_dict(cls: type[Config], data: dict[str, Any], where: str = "config") -> Config:
        """The config from a mapping of fields (``ValueError`` naming unknown fields)."""
        data = dict(data)
        nested = {name: dict(data.pop(name, None) or {}) for name in cls.NESTED}
        for key in [k for k in data if k.partition(".")[0] in nested]:
            prefix, _, name = key.partition(".")
            nested[prefix][name] = data.pop(key)
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        for prefix, kind in cls.NESTED.items():
            known = {f.name for f in dataclasses.fields(kind)}
            unknown += sorted(f"{prefix}.{k}" for k in set(nested[prefix]) - known)
        if unknown:
            raise ValueError(f"{where}: unknown config field(s) {unknown}")
        return cls(**data, **{prefix: cls.NESTED[prefix](**nested[prefix]) for prefix in nested})


def learning_rate_at(config: RunConfig, step: int) -> float:
    """The learning rate of update ``step`` (0-based): ``learning_rate`` before
    ``config.schedule_start``, then a linear warm-up over ``warmup_steps``, then
    ``learning_rate``; with ``lr_schedule: cosine`` it decays to 0 at ``max_steps``, over the
    last ``decay_steps`` (``None``: every step after the warm-up). A pure function of the step,
    so resuming needs no scheduler state."""
    start = config.schedule_start
    if step < start:
        return config.learning_rate
    if step < start + config.warmup_steps:
        return config.learning_rate * (step - start + 1) / config.warmup_steps
    if config.decay_steps is None:
        decay_start = start + config.warmup_steps
    else:
        decay_start = config.max_steps - config.decay_steps
    if config.lr_schedule == "constant" or step < decay_start:
        return config.learning_rate
    progress = min((step - decay_start) / max(config.max_steps - decay_start, 1), 1.0)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))


def parse_config(
    argv: list[str] | None, config_class: type[Config], prog: str, description: str | None = None
) -> Config:
    """A run config from a command line: ``--config FILE`` and ``--field value`` overrides
    (values read as YAML: numbers, lists; ``--loss.ssim 0.5`` for nested fields).
    ``description``: the help text's (its first paragraph is shown)."""
    summary = (description or config_class.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog=prog, description=summary)
    fields = f"a YAML file of {config_class.__name__} fields"
    parser.add_argument("--config", type=Path, help=fields)
    known, rest = parser.parse_known_args(argv)
    if len(rest) % 2 or not all(key.startswith("--") for key in rest[::2]):
        raise ValueError(f"overrides: expected --field value pairs, got {rest}")
    overrides = {
        key[2:].replace("-", "_"): yaml.safe_load(value)
        for key, value in zip(rest[::2], rest[1::2], strict=True)
    }
    if known.config is not None:
        return config_class.from_yaml(known.config, **overrides)
    return config_class.from_dict(overrides, where="command line")


@dataclass
class LossWeights:
    """Weights of the loss terms (0 turns a term off)."""

    l1: float = 1.0  # multi-scale L1 on the image (full, 1/2, 1/4)
    ssim: float = 0.0  # 1 - SSIM (pytorch-msssim)
    flow_smoothness: float = 0.0  # total variation of the flow
    alpha: float = 0.0  # L1 between the warped source alpha and the target alpha
    generated: float = 0.0  # the image terms on AniMo's generated image before the mask too
    face: float = (
        0.0  # the L1 and SSIM terms again on the central face crop (eyes, mouth count more)
    )
    mask: float = 0.0  # BCE of the mask against where the warped source already matches the target
    changed: float = 0.0  # L1 on the pixels the warped source does not explain (output, generated)
    # the same averaged within each image, then over the batch: each image weighs the same,
    # however many pixels it changes
    changed_per_image: float = 0.0
    # L1 per image where a frontal target differs from its source: its expression (output and
    # generated image)
    expression: float = 0.0
    edges: float = 0.0  # L1 between the Laplacians of output (generated) and target
    adversarial: float = 0.0  # hinge GAN with the pose-conditioned patch discriminator (full phase)
    feature_matching: float = 0.0  # L1 between the discriminator's features of output and target
    # the adversarial and feature-matching terms on AniMo's generated image too, at this scale,
    # and the discriminator learns it as a fake: the generator must be sharp where the mask rests
    generated_adversarial: float = 0.0
    regressor_features: float = 0.0  # L1 between the pose regressor's features (needs `regressor`)
    regressor_expression: float = 0.0  # L1: the expression the regressor reads vs the target's
    regressor_head: float = 0.0  # L1: the head angles it reads vs the target's (degrees / 20)

    @property
    def uses_regressor(self) -> bool:
        return bool(self.regressor_features or self.regressor_expression or self.regressor_head)

    @property
    def uses_discriminator(self) -> bool:
        return bool(self.adversarial or self.feature_matching)


@dataclass
class EditingArchitecture:
    """AniMo's editing network (``animo_hf.EditingNetwork``): its size is what decides how much
    it can draw (closed eyes, an open mouth) and what a frame costs."""

    block_out_channels: tuple[int, ...] = (32, 64, 96)  # per decoder level, finest first
    layers_per_block: int = 1  # AdaIN residual blocks per level
    warp_interpolation: str = "bilinear"  # how the source image is sampled: or "bicubic"
    source_skip: bool = False  # the warped source image reaches the head (sharp generated image)

    def __post_init__(self) -> None:
        if isinstance(self.block_out_channels, list):
            self.block_out_channels = tuple(self.block_out_channels)


@dataclass
class WarpingArchitecture:
    """AniMo's warping network (``animo_hf.WarpingNetwork``)."""

    convex_upsampling: bool = False  # the flow at full resolution through a learned upsampling


@dataclass
class TrainConfig(RunConfig):
    """Everything that determines an AniMo (or baseline) training run.

    Attributes (and those every :class:`RunConfig` has):
        model: ``"animo"`` (pose mapping, motion, warping and editing networks) or
            ``"pirenderer"`` (the PIRenderer-style baseline).
        dataset: only its ``train`` split is read (of a list: theirs, concatenated, e.g.
            AnimeCeleb and a build of your own characters).
        output_dir: checkpoints, logs, sample grids and the exported weights go here.
        styles: the styles to train on (``None``: every style in the data).
        source_groups / target_groups: which images may be the source and the target of a pair
            (both images of a pair are the same character in the same style).
        batch_size: pairs per step and process; gradient_accumulation_steps: steps per update.
        max_steps: optimizer updates in all.
        warp_only_fraction: the first part of training optimises only the warping path (the
            warped source against the target), as in the paper; then the whole model.
        learning_rate, betas: Adam, the paper's 1e-4 and (0.5, 0.999) (the discriminator's too);
            lr_schedule, warmup_steps, decay_steps: constant by default, as in the paper.
        discriminator_learning_rate: the discriminator's peak rate (``None``: learning_rate),
            scaled by the same schedule (a faster critic: the two time-scale rule).
        discriminator_warmup_steps: the first updates train only the discriminator, at its peak
            rate, against the (loaded) model's outputs, the model frozen; the model's schedule
            (warmup_steps, decay_steps) begins after them. A fine-tune from shipped weights,
            whose discriminator was not kept, then starts against one that tells its outputs
            from renders.
        discriminator_updates: discriminator updates per step, each on the same batch's real
            and generated images (a critic that stays ahead of the model); no update draws
            random numbers or batches, so a resumed run goes on as an unbroken one.
        loss: the loss weights.
        editing: the size of AniMo's editing network (``editing.layers_per_block``, ...).
        warping: options of AniMo's warping network (``warping.convex_upsampling``).
        regressor: a pose regressor folder or repo id, for ``loss.regressor_features``,
            ``loss.regressor_expression`` and ``loss.regressor_head``.
        init_weights: start from these weights (a folder written by a run's export or
            ``save_pretrained``, or a Hub repo id) instead of a fresh model: to fine-tune.
        lora_rank: fine-tune ``init_weights`` through LoRA adapters of this rank on every
            convolution and linear layer of ``lora_components`` (``animo_hf.lora``), the loaded
            weights frozen (``None``: train every weight). The run also exports the adapter,
            a small file that ``AniMoPipeline.load_lora_weights`` fuses into those weights.
        lora_components: the AniMo networks that get adapters.
        init_lora: start the adapters from this saved adapter (a folder holding
            ``pytorch_lora_weights.safetensors``, as a LoRA run exports or ships, or a Hub repo
            id) instead of zero: to train a shipped adapter further. It must have been trained
            on ``init_weights`` with the same ``lora_rank`` and ``lora_components``.
        mixed_precision: ``"bf16"``: autocast to bfloat16 (``accelerate``); 1.2-1.3x faster
            steps on this CPU (``benchmarks/train_throughput.py``).
        channels_last: the models and image batches in channels-last memory format (1.1-1.3x).
        augment: colour jitter and a small scale/shift, applied to source and target alike.
        seed: seeds the models, the data order and the augmentation.
        sample_every: in optimizer steps, like log_every and checkpoint_every.
    """

    NESTED = {"loss": LossWeights, "editing": EditingArchitecture, "warping": WarpingArchitecture}

    model: Literal["animo", "pirenderer"] = "animo"
    dataset: str | tuple[str, ...] = ""
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
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    decay_steps: int | None = None
    discriminator_learning_rate: float | None = None
    discriminator_warmup_steps: int = 0
    discriminator_updates: int = 1
    loss: LossWeights = field(default_factory=LossWeights)
    editing: EditingArchitecture = field(default_factory=EditingArchitecture)
    warping: WarpingArchitecture = field(default_factory=WarpingArchitecture)
    regressor: str | None = None
    init_weights: str | None = None
    lora_rank: int | None = None
    lora_components: tuple[str, ...] = ("warping_network", "editing_network")
    init_lora: str | None = None
    mixed_precision: Literal["no", "bf16"] = "no"
    channels_last: bool = False
    augment: bool = True
    seed: int = 0
    num_workers: int = 0
    torch_threads: int | None = None
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 2

    def validate(self) -> None:
        check_choice("model", self.model, MODELS)
        check_non_negative("discriminator_warmup_steps", self.discriminator_warmup_steps)
        check_positive("discriminator_updates", self.discriminator_updates)
        super().validate()
        rate = self.discriminator_learning_rate
        if rate is not None and (not is_number(rate) or not 0.0 < rate < 1.0):
            config_error("discriminator_learning_rate", rate, "null or a number in (0, 1)")
        if self.discriminator_warmup_steps and (
            not self.loss.uses_discriminator or self.warp_only_steps
        ):
            config_error(
                "discriminator_warmup_steps",
                self.discriminator_warmup_steps,
                "0 unless loss.adversarial or loss.feature_matching > 0 and "
                "warp_only_fraction is 0 (it trains the critic of a whole model)",
            )
        if self.discriminator_warmup_steps >= self.max_steps:
            config_error(
                "discriminator_warmup_steps",
                self.discriminator_warmup_steps,
                f"fewer than max_steps ({self.max_steps})",
            )
        check_positive("gradient_accumulation_steps", self.gradient_accumulation_steps)
        if self.discriminator_updates > 1 and (
            not self.loss.uses_discriminator or self.gradient_accumulation_steps > 1
        ):
            config_error(
                "discriminator_updates",
                self.discriminator_updates,
                "1 unless loss.adversarial or loss.feature_matching > 0 and "
                "gradient_accumulation_steps is 1 (accumulated batches would sum its updates)",
            )
        check_positive("sample_every", self.sample_every)
        if not is_number(self.warp_only_fraction) or not 0.0 <= self.warp_only_fraction < 1.0:
            config_error("warp_only_fraction", self.warp_only_fraction, "a number in [0, 1)")
        check_choice("mixed_precision", self.mixed_precision, ("no", "bf16"))
        check_bool("channels_last", self.channels_last)
        check_bool("augment", self.augment)
        check_subset("source_groups", self.source_groups, SOURCE_GROUPS)
        check_subset("target_groups", self.target_groups, TARGET_GROUPS)
        for term in dataclasses.fields(LossWeights):
            weight = getattr(self.loss, term.name)
            if not is_number(weight) or weight < 0:
                config_error(f"loss.{term.name}", weight, "a finite number >= 0")
        if self.loss.l1 == 0 and self.loss.ssim == 0:
            config_error("loss", dataclasses.asdict(self.loss), "a non-zero l1 or ssim weight")
        channels = self.editing.block_out_channels
        if (
            not isinstance(channels, tuple)
            or not channels
            or not all(is_int(c) and c > 0 for c in channels)
        ):
            config_error("editing.block_out_channels", channels, "a list of positive integers")
        check_positive("editing.layers_per_block", self.editing.layers_per_block)
        check_choice(
            "editing.warp_interpolation", self.editing.warp_interpolation, WARP_INTERPOLATIONS
        )
        check_bool("editing.source_skip", self.editing.source_skip)
        check_bool("warping.convex_upsampling", self.warping.convex_upsampling)
        if self.loss.uses_regressor and not self.regressor:
            config_error(
                "regressor",
                self.regressor,
                "a pose regressor folder when loss.regressor_features, "
                "loss.regressor_expression or loss.regressor_head > 0",
            )
        for name in ("regressor", "init_weights", "init_lora"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                config_error(name, value, "null or a folder / Hub repo id")
        check_subset("lora_components", self.lora_components, ADAPTED_COMPONENTS)
        if self.lora_rank is not None:
            check_positive("lora_rank", self.lora_rank)
            if self.model != "animo" or self.init_weights is None:
                config_error(
                    "lora_rank", self.lora_rank, "null unless model is animo with init_weights"
                )
        if self.init_lora is not None and self.lora_rank is None:
            config_error("init_lora", self.init_lora, "null unless lora_rank is set")

    @property
    def warp_only_steps(self) -> int:
        return int(self.max_steps * self.warp_only_fraction)

    @property
    def schedule_start(self) -> int:
        return self.discriminator_warmup_steps

    @property
    def discriminator_rate_scale(self) -> float:
        """The discriminator's learning rate over the model's."""
        return (self.discriminator_learning_rate or self.learning_rate) / self.learning_rate
