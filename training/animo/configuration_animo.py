"""The config of an AniMo (or PIRenderer-style baseline) training run: the shared sections of
:class:`training.configuration.RunConfig`, the model, the loss weights, the critic and the list of
stages that make up the run (a warping-only stage, a critic warm-up, cosine cycles, a fine-tune
with other losses), so that one config file, run by one command, is the whole recipe."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from animo_hf.lora import ADAPTED_COMPONENTS
from animo_hf.models.layers import WARP_INTERPOLATIONS

from ..configuration import (
    ConfigSection,
    ConfigValueError,
    RunConfig,
    ScheduleConfig,
    check_bool,
    check_channels,
    check_choice,
    check_positive,
    check_rate,
    check_subset,
    check_weights_source,
    config_error,
    is_number,
)

MODELS = ("animo", "pirenderer")
SOURCE_GROUPS = ("basis", "frontal")
TARGET_GROUPS = ("frontal", "rotated")
# what a stage trains: the critic alone (the model frozen), the expression stage alone (its output
# against the target), the warping path alone (the warped source against the target, as the paper
# begins), the whole rotator (warping and editing networks) on the source as given, or the whole
# model end to end (the expression stage on the source, then the rotator)
STAGE_TRAINS = ("critic", "morpher", "warp", "full", "end_to_end")
AUGMENT_RESAMPLING = ("bilinear", "integer")


@dataclass
class LossWeights(ConfigSection):
    """Weights of the loss terms (0 turns a term off)."""

    l1: float = 1.0  # multi-scale L1 on the image (full, 1/2, 1/4)
    ssim: float = 0.0  # 1 - SSIM (pytorch-msssim)
    flow_smoothness: float = 0.0  # total variation of the flow
    alpha: float = 0.0  # L1 between the warped source alpha and the target alpha
    generated: float = 0.0  # the image terms on AniMo's generated image before the mask too
    changed: float = 0.0  # L1 on the pixels the warped source does not explain (output, generated)
    adversarial: float = 0.0  # hinge GAN with the pose-conditioned patch discriminator
    feature_matching: float = 0.0  # L1 between the discriminator's features of output and target
    # the adversarial and feature-matching terms on AniMo's generated image too, at this scale,
    # and the discriminator learns it as a fake: the generator must be sharp where the mask rests
    generated_adversarial: float = 0.0
    # L1 between the expression the pose regressor reads from the output and the target's
    regressor_expression: float = 0.0
    # the expression stage: L1 on the pixels where the target differs from the source (its
    # expression), and the binary cross-entropy of its alpha against those pixels in its crop
    morpher_changed: float = 0.0
    morpher_alpha: float = 0.0

    def validate(self) -> None:
        for term in dataclasses.fields(self):
            weight = getattr(self, term.name)
            if not is_number(weight) or weight < 0:
                config_error(term.name, weight, "a finite number >= 0")
        if self.l1 == 0 and self.ssim == 0:
            config_error("l1", self.l1, "a non-zero l1 or ssim weight")

    @property
    def uses_discriminator(self) -> bool:
        return bool(self.adversarial or self.feature_matching)


@dataclass
class EditingArchitecture(ConfigSection):
    """AniMo's editing network (``animo_hf.EditingNetwork``): its size decides how much it can
    draw and what a frame costs; ``warp_interpolation`` how the source image is sampled."""

    block_out_channels: tuple[int, ...] = (32, 64, 96)  # per decoder level, finest first
    layers_per_block: int = 1  # AdaIN residual blocks per level
    warp_interpolation: str = "bilinear"

    def validate(self) -> None:
        check_channels("block_out_channels", self.block_out_channels)
        check_positive("layers_per_block", self.layers_per_block)
        check_choice("warp_interpolation", self.warp_interpolation, WARP_INTERPOLATIONS)


@dataclass
class LoraConfig(ConfigSection):
    """Fine-tune ``model.init_weights`` through LoRA adapters of ``rank`` on every convolution
    and linear layer of ``components`` (``animo_hf.lora``), the loaded weights frozen; the run
    exports the adapter alone too, which ``AniMoPipeline.load_lora_weights`` fuses into those
    weights. ``init``: start the adapters from a saved adapter (a folder holding
    ``pytorch_lora_weights.safetensors`` or a Hub repo id) trained on the same weights with the
    same rank and components, instead of zero."""

    rank: int = 8
    components: tuple[str, ...] = ("warping_network", "editing_network")
    init: str | None = None

    def validate(self) -> None:
        check_positive("rank", self.rank)
        check_subset("components", self.components, ADAPTED_COMPONENTS)
        check_weights_source("init", self.init)


@dataclass
class MorpherArchitecture(ConfigSection):
    """The expression stage (``animo_hf.ExpressionMorpher``): its U-Net's channels per level
    (finest first), the pixel-shuffle factor of its finest level, its small warp, and its crop
    as fractions of the frame."""

    block_out_channels: tuple[int, ...] = (32, 64, 96, 128)
    downscale: int = 2
    warp: bool = True
    crop_top: float = 0.375
    crop_left: float = 0.25
    crop_size: float = 0.5

    def validate(self) -> None:
        check_channels("block_out_channels", self.block_out_channels)
        check_positive("downscale", self.downscale)
        check_bool("warp", self.warp)
        for name in ("crop_top", "crop_left", "crop_size"):
            value = getattr(self, name)
            if not is_number(value) or not 0.0 <= value <= 1.0:
                config_error(name, value, "a fraction of the frame in [0, 1]")


@dataclass
class ModelConfig(ConfigSection):
    """``name``: ``animo`` (pose mapping, motion, warping and editing networks) or
    ``pirenderer`` (the PIRenderer-style baseline); ``editing``: AniMo's editing network;
    ``expression_morpher``: AniMo's expression stage before the head turns (``None``: none);
    ``init_weights``: start from these weights (a run's ``weights/`` or a shipped folder, or a
    Hub repo id) instead of a fresh model; ``lora``: train adapters on them instead."""

    name: str = "animo"
    editing: EditingArchitecture = field(default_factory=EditingArchitecture)
    expression_morpher: MorpherArchitecture | None = None
    init_weights: str | None = None
    lora: LoraConfig | None = None

    def validate(self) -> None:
        check_choice("name", self.name, MODELS)
        if self.expression_morpher is not None and self.name != "animo":
            config_error("expression_morpher", self.expression_morpher.to_dict(), "null")
        check_weights_source("init_weights", self.init_weights)
        if self.lora is not None and (self.name != "animo" or self.init_weights is None):
            config_error("lora", self.lora.to_dict(), "null unless name is animo with init_weights")


@dataclass
class CriticConfig(ConfigSection):
    """The pose-conditioned patch discriminator of the adversarial terms: its peak
    ``learning_rate`` (``None``: the optimizer's), scaled by each stage's schedule, and its
    ``updates`` per step, each on the same batch (a critic that stays ahead of the model; no
    update draws random numbers or batches, so a resumed run goes on as an unbroken one)."""

    learning_rate: float | None = None
    updates: int = 1

    def validate(self) -> None:
        if self.learning_rate is not None:
            check_rate("learning_rate", self.learning_rate)
        check_positive("updates", self.updates)


@dataclass
class PairConfig(ConfigSection):
    """Which images may be the source and the target of a training pair (both images of a pair
    are the same character in the same style); ``same_pair``: the source has the target's
    ``pair_id`` too (a frontal source for a rotated target: the same expression, only the head
    moves)."""

    source_groups: tuple[str, ...] = ("basis",)
    target_groups: tuple[str, ...] = ("frontal", "rotated")
    same_pair: bool = False

    def validate(self) -> None:
        check_subset("source_groups", self.source_groups, SOURCE_GROUPS)
        check_subset("target_groups", self.target_groups, TARGET_GROUPS)
        check_bool("same_pair", self.same_pair)


@dataclass
class StageConfig(ConfigSection):
    """One stage of a run: ``steps`` optimizer updates that train ``trains`` (``critic``: the
    discriminator alone at its peak rate, the model frozen; ``warp``: the warping path; ``full``:
    the whole model; ``morpher``, ``end_to_end``: see ``STAGE_TRAINS``) with the learning rate
    of ``schedule`` over the stage; ``loss``: weights that replace the run's for this stage (a
    mapping of some terms); ``critic_updates``: the critic's updates per step (``None``: the
    run's ``critic.updates``); ``pairs``: the stage's training pairs (``None``: the run's)."""

    steps: int = 1
    trains: str = "full"
    name: str = ""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: dict[str, float] = field(default_factory=dict)
    critic_updates: int | None = None
    pairs: PairConfig | None = None

    def validate(self) -> None:
        check_positive("steps", self.steps)
        check_choice("trains", self.trains, STAGE_TRAINS)
        if not isinstance(self.name, str):
            config_error("name", self.name, "a string")
        try:
            self.schedule.check_span(self.steps)
        except ConfigValueError as error:
            raise error.within("schedule.") from None
        if not isinstance(self.loss, dict):
            config_error("loss", self.loss, "a mapping of loss weights")
        unknown = sorted(set(self.loss) - {f.name for f in dataclasses.fields(LossWeights)})
        if unknown:
            config_error("loss", self.loss, f"loss weights only (unknown: {unknown})")
        if self.critic_updates is not None:
            check_positive("critic_updates", self.critic_updates)


@dataclass(frozen=True)
class Stage:
    """A stage as it trains: its index in the run, the step it starts at, its settings and
    the ones it takes from the run (loss weights, critic updates, pairs)."""

    index: int
    start: int
    config: StageConfig
    loss: LossWeights
    critic_updates: int
    pairs: PairConfig

    @property
    def end(self) -> int:
        return self.start + self.config.steps

    @property
    def label(self) -> str:
        return self.config.name or f"stage {self.index + 1}"


@dataclass
class TrainConfig(RunConfig):
    """Everything that determines an AniMo (or baseline) training run.

    Sections (and those every :class:`training.configuration.RunConfig` has: ``data``, whose
    ``train`` split is read; ``optimizer``, Adam, the paper's 1e-4 and (0.5, 0.999);
    ``checkpoints``):
        model: :class:`ModelConfig` (``name``, ``editing``, ``init_weights``, ``lora``).
        pairs: :class:`PairConfig`, the source and target groups.
        loss: :class:`LossWeights`, which a stage may change in part.
        critic: :class:`CriticConfig`, the discriminator's rate and updates per step.
        stages: the run, a list of :class:`StageConfig` trained one after another; a run
            resumed with stages added after the ones it trained goes on with them.
        regressor: a pose regressor folder or repo id, for ``loss.regressor_expression``.
        mixed_precision: ``"bf16"``: autocast to bfloat16 (``accelerate``).
        channels_last: the models and image batches in channels-last memory format.
        augment: colour jitter and a small scale/shift, applied to source and target alike;
            augment_resampling: ``bilinear`` (a scale and a sub-pixel shift, resampled: it keeps
            ~0.36 of a target's detail) or ``integer`` (a shift by whole pixels, no scale: every
            pixel kept).
        sample_every: save a grid of the fixed sample pairs every so many updates.
    """

    BOOKKEEPING: ClassVar[frozenset[str]] = RunConfig.BOOKKEEPING | {"sample_every"}

    model: ModelConfig = field(default_factory=ModelConfig)
    pairs: PairConfig = field(default_factory=PairConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    critic: CriticConfig = field(default_factory=CriticConfig)
    stages: tuple[StageConfig, ...] = (
        StageConfig(steps=500, trains="warp", name="warping path"),
        StageConfig(steps=1500, trains="full", name="whole model"),
    )
    regressor: str | None = None
    mixed_precision: str = "no"
    channels_last: bool = False
    augment: bool = True
    augment_resampling: str = "bilinear"
    sample_every: int = 200

    def validate(self) -> None:
        super().validate()
        if not self.stages or not all(isinstance(s, StageConfig) for s in self.stages):
            config_error("stages", self.stages, "a non-empty list of stages")
        stages, start = [], 0
        for index, stage in enumerate(self.stages):
            try:
                stages.append(self.run_stage(index, stage, start))
            except ConfigValueError as error:
                raise error.within(f"stages.{index}.loss.") from None
            start += stage.steps
        uses_critic = any(stage.loss.uses_discriminator for stage in stages)
        for stage in stages:
            where = f"stages.{stage.index}"
            morphs = stage.config.trains in ("morpher", "end_to_end")
            if morphs and self.model.expression_morpher is None:
                config_error(
                    f"{where}.trains",
                    stage.config.trains,
                    "a stage of the expression stage only with model.expression_morpher",
                )
            if stage.config.trains == "critic" and not uses_critic:
                config_error(
                    f"{where}.trains", "critic", "no critic stage unless a stage's loss uses it"
                )
            if stage.critic_updates > 1 and self.optimizer.gradient_accumulation_steps > 1:
                config_error(
                    f"{where}.critic_updates",
                    stage.critic_updates,
                    "1 with gradient accumulation (accumulated batches would sum its updates)",
                )
        check_choice("mixed_precision", self.mixed_precision, ("no", "bf16"))
        check_bool("channels_last", self.channels_last)
        check_bool("augment", self.augment)
        check_choice("augment_resampling", self.augment_resampling, AUGMENT_RESAMPLING)
        check_positive("sample_every", self.sample_every)
        if self.loss.regressor_expression and not self.regressor:
            config_error("regressor", self.regressor, "a pose regressor folder or repo id")
        check_weights_source("regressor", self.regressor)

    def run_stage(self, index: int, config: StageConfig, start: int) -> Stage:
        """Stage ``index`` starting at update ``start``, with its loss weights (the run's, the
        stage's own on top), critic updates and pairs."""
        loss = dataclasses.replace(self.loss, **config.loss)
        updates = config.critic_updates or self.critic.updates
        return Stage(index, start, config, loss, updates, config.pairs or self.pairs)

    def run_stages(self) -> list[Stage]:
        """The stages with their start steps, loss weights and critic updates."""
        stages, start = [], 0
        for index, config in enumerate(self.stages):
            stages.append(self.run_stage(index, config, start))
            start += config.steps
        return stages

    def stage_at(self, step: int) -> Stage:
        """The stage that update ``step`` (0-based) belongs to."""
        for stage in self.run_stages():
            if step < stage.end:
                return stage
        raise ValueError(f"step {step}: past the run's {self.total_steps} steps")

    def steps_on_run_pairs(self, step: int) -> int:
        """How many of the first ``step`` updates took the run's pairs (the stream stages
        without pairs of their own share)."""
        return sum(
            max(0, min(step, stage.end) - stage.start)
            for stage in self.run_stages()
            if stage.config.pairs is None
        )

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    @property
    def uses_discriminator(self) -> bool:
        """Whether the run trains a critic (the checkpoints hold one from the start)."""
        return any(stage.loss.uses_discriminator for stage in self.run_stages())

    @property
    def critic_rate(self) -> float:
        """The discriminator's peak learning rate."""
        return self.critic.learning_rate or self.optimizer.learning_rate
