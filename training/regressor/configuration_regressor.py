"""The pose regressor's run config: the shared sections of :class:`training.configuration.RunConfig`
(``data``, ``optimizer``, ``checkpoints``) with the regressor's defaults, its ``schedule`` and
``model`` sections and its own fields. A YAML or JSON file of it::

    data: {dataset: outputs/animeceleb-500/hub, resolution: 128, resize: true}
    steps: 20000
    model: {embedding_size: 32, hidden_sizes: [32, 64, 128, 256], depths: [1, 1, 1, 1]}

A value out of range is one ``ValueError`` naming the field by its dotted path
(``config model.depths = (1, 1): expected one depth per hidden size (4)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from animeceleb.sampling import GROUPS

from ..configuration import (
    CheckpointConfig,
    ConfigSection,
    ConfigValueError,
    DataConfig,
    OptimizerConfig,
    RunConfig,
    ScheduleConfig,
    check_channels,
    check_choice,
    check_non_negative,
    check_positive,
    check_subset,
    config_error,
    is_number,
)

LOSSES = ("mse", "smooth_l1")
LAYER_TYPES = ("basic", "bottleneck")

# The regressor's defaults of the shared sections. They apply under whatever a config file or the
# command line gives of a section (``--data.dataset X`` keeps batch size 32), and make the
# sections' default factories below.
SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"batch_size": 32, "num_workers": 1},
    "optimizer": {"learning_rate": 1e-3, "betas": (0.9, 0.999)},
    "schedule": {"decay": "cosine", "warmup_steps": 200},
    "checkpoints": {"output_dir": "outputs/regressor", "log_every": 20, "checkpoint_every": 500},
}


@dataclass
class RegressorDataConfig(DataConfig):
    """:class:`DataConfig` with the regressor's smallest image: its ResNet halves the image five
    times (a 32² image ends in a 1 x 1 feature map). The image size is the model's input size,
    stored in its config; the shipped regressor reads 128² (``resolution: 128`` with
    ``resize: true`` on the 256² build)."""

    MIN_RESOLUTION: ClassVar[int] = 32


@dataclass
class RegressorArchitecture(ConfigSection):
    """The ResNet (``transformers.ResNetConfig``): ``embedding_size`` (the stem's channels),
    ``hidden_sizes`` and ``depths`` (channels and blocks of each stage), ``layer_type`` (``basic``
    or ``bottleneck`` blocks). The default, ResNet-10-like at half width, has 1,235,380
    parameters."""

    embedding_size: int = 32
    hidden_sizes: tuple[int, ...] = (32, 64, 128, 256)
    depths: tuple[int, ...] = (1, 1, 1, 1)
    layer_type: str = "basic"

    def validate(self) -> None:
        check_positive("embedding_size", self.embedding_size)
        for name in ("hidden_sizes", "depths"):
            check_channels(name, getattr(self, name))
        if len(self.hidden_sizes) != len(self.depths):
            expected = f"one depth per hidden size ({len(self.hidden_sizes)})"
            config_error("depths", self.depths, expected)
        check_choice("layer_type", self.layer_type, LAYER_TYPES)


@dataclass
class RegressorConfig(RunConfig):
    """Everything that determines a regressor training run.

    Attributes (and the sections every :class:`training.configuration.RunConfig` has):
        data: its dataset's ``train`` split trains, its ``test`` split (held-out identities)
            evaluates; ``resolution`` is the model's input size (``None``: the dataset's).
            Defaults here: batch size 32, one data-loader worker (it decodes on the other core
            while the step runs).
        optimizer: Adam, learning rate 1e-3, betas (0.9, 0.999); one batch per update.
        checkpoints: ``outputs/regressor``, a log record every 20 updates, a checkpoint every 500.
        steps: optimizer updates in all.
        schedule: the learning rate over the ``steps``: a linear warm-up of 200 updates, then a
            cosine decay to 0 at the end.
        model: the ResNet (:class:`RegressorArchitecture`).
        groups: the image groups to train and evaluate on (basis, frontal, rotated).
        loss: ``mse`` or ``smooth_l1`` on the normalised targets.
        color_jitter: brightness, contrast and saturation x U(1 - j, 1 + j) (0: off);
            hue_jitter: hue rotation by U(-h, h) turns (0: off).
        seed: seeds the model, the data order and the jitter.
        torch_threads: 1 by default: on the busy 2-core machine the default model trained at
            ~100 samples/s on one thread and at ~16 on two (the thread pool waits for a core
            that another process holds).
        eval_every: evaluate on the test split every so many updates (0: only at the end);
            eval_batch_size: images per evaluation batch.
    """

    SECTION_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = SECTION_DEFAULTS
    # How often a run evaluates, and in what batches, change no weight: a resumed run may too.
    BOOKKEEPING: ClassVar[frozenset[str]] = RunConfig.BOOKKEEPING | {
        "eval_every",
        "eval_batch_size",
    }

    data: RegressorDataConfig = field(
        default_factory=lambda: RegressorDataConfig(**SECTION_DEFAULTS["data"])
    )
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(**SECTION_DEFAULTS["optimizer"])
    )
    checkpoints: CheckpointConfig = field(
        default_factory=lambda: CheckpointConfig(**SECTION_DEFAULTS["checkpoints"])
    )
    torch_threads: int | None = 1
    steps: int = 20_000
    schedule: ScheduleConfig = field(
        default_factory=lambda: ScheduleConfig(**SECTION_DEFAULTS["schedule"])
    )
    model: RegressorArchitecture = field(default_factory=RegressorArchitecture)
    groups: tuple[str, ...] = GROUPS
    loss: str = "mse"
    color_jitter: float = 0.15
    hue_jitter: float = 0.05
    eval_every: int = 2000
    eval_batch_size: int = 64

    @property
    def total_steps(self) -> int:
        return self.steps

    def validate(self) -> None:
        super().validate()
        check_positive("steps", self.steps)
        try:
            self.schedule.check_span(self.steps)
        except ConfigValueError as error:
            raise error.within("schedule.") from None
        if self.optimizer.gradient_accumulation_steps != 1:
            config_error(
                "optimizer.gradient_accumulation_steps",
                self.optimizer.gradient_accumulation_steps,
                "1 (the regressor takes one batch per update)",
            )
        check_subset("groups", self.groups, GROUPS)
        check_choice("loss", self.loss, LOSSES)
        for name, unit in (("color_jitter", ""), ("hue_jitter", " (turns)")):
            value = getattr(self, name)
            if not is_number(value) or not 0.0 <= value <= 0.5:
                config_error(name, value, f"a number in [0, 0.5]{unit}")
        check_non_negative("eval_every", self.eval_every)
        check_positive("eval_batch_size", self.eval_batch_size)
