"""Run configs composed of nested, validated dataclasses (LeRobot's pattern): the sections every
trainer shares (:class:`DataConfig`, :class:`OptimizerConfig`, :class:`ScheduleConfig`,
:class:`CheckpointConfig`) and :class:`RunConfig`, their composition, loadable from YAML or JSON
and overridable from the command line (``--data.resolution 128``, ``--stages.1.steps 400``).

A value out of range is one ``ValueError`` naming the field by its dotted path::

    config data.batch_size = 0: expected a positive integer
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar

import yaml

SCHEDULE_DECAYS = ("constant", "cosine")
MIXED_PRECISIONS = ("no", "bf16")
Section = TypeVar("Section", bound="ConfigSection")


class ConfigValueError(ValueError):
    """A config field out of range; ``name`` is its path within the section that raised it."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        self.name, self.value, self.expected = name, value, expected
        super().__init__(f"config {name} = {value!r}: expected {expected}")

    def within(self, prefix: str) -> ConfigValueError:
        """The same error, its field named from an enclosing section (``prefix`` ends in '.')."""
        return ConfigValueError(prefix + self.name, self.value, self.expected)


def config_error(name: str, value: Any, expected: str) -> NoReturn:
    """Raise the one-line error of a config field out of range."""
    raise ConfigValueError(name, value, expected)


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


def check_channels(name: str, value: Any) -> None:
    """A non-empty tuple of positive integers (a network's channels or blocks per level)."""
    if not isinstance(value, tuple) or not value or not all(is_int(v) and v > 0 for v in value):
        config_error(name, value, "a list of positive integers")


def check_rate(name: str, value: Any) -> None:
    """A learning rate: a number in (0, 1)."""
    if not is_number(value) or not 0.0 < value < 1.0:
        config_error(name, value, "a number in (0, 1)")


def check_weights_source(name: str, value: Any) -> None:
    """``None`` or a non-empty folder / Hub repo id."""
    if value is not None and (not isinstance(value, str) or not value):
        config_error(name, value, "null or a folder / Hub repo id")


class ConfigSection:
    """Base of every config dataclass: lists read from YAML become tuples, mappings become the
    nested sections their fields are typed as (a tuple of sections from a list of mappings), and
    :meth:`validate` runs after construction, its errors naming the field's dotted path.

    ``SECTION_DEFAULTS`` (section field -> values): a subclass's own defaults of a shared
    section, under whatever a config file or the command line gives of it (``--data.dataset X``
    keeps the batch size the subclass chose); its default factories should use them too."""

    SECTION_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, list):
                setattr(self, item.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigValueError` naming the first field out of range."""

    def to_dict(self) -> dict[str, Any]:
        """JSON types only (lists, not tuples): comparable with a saved config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def sections(cls) -> dict[str, tuple[type[ConfigSection], bool]]:
        """Field name -> (its section class, whether the field is a tuple of them)."""
        found = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for name, hint in typing.get_type_hints(cls).items():
            if name not in names:
                continue
            options = [h for h in typing.get_args(hint) if h is not type(None)]
            if typing.get_origin(hint) is types.UnionType and len(options) == 1:
                hint = options[0]  # an optional section
            many = typing.get_origin(hint) is tuple
            kind = typing.get_args(hint)[0] if many else hint
            if isinstance(kind, type) and issubclass(kind, ConfigSection):
                found[name] = (kind, many)
        return found

    @classmethod
    def from_dict(cls: type[Section], data: dict[str, Any], where: str = "config") -> Section:
        """The config from a mapping of fields (nested sections as mappings); ``ValueError``
        naming ``where`` and any unknown field by its dotted path."""
        return cls._from_dict(data, where, "")

    @classmethod
    def _from_dict(cls: type[Section], data: Any, where: str, prefix: str) -> Section:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: {prefix.rstrip('.') or 'config'} must be a mapping")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            names = [prefix + name for name in unknown]
            raise ValueError(f"{where}: unknown config field(s) {names}")
        values = dict(data)
        for name, defaults in cls.SECTION_DEFAULTS.items():
            if isinstance(values.get(name, {}), dict):
                values[name] = {**defaults, **values.get(name, {})}
        for name, (kind, many) in cls.sections().items():
            value = values.get(name)
            if many and isinstance(value, list | tuple):
                values[name] = tuple(
                    kind._from_dict(item, where, f"{prefix}{name}.{i}.")
                    for i, item in enumerate(value)
                )
            elif not many and isinstance(value, dict):
                values[name] = kind._from_dict(value, where, f"{prefix}{name}.")
        try:
            return cls(**values)
        except ConfigValueError as error:
            raise error.within(prefix) if prefix else error from None


def apply_override(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` (``optimizer.learning_rate``, ``stages.1.steps``) of the nested
    mapping ``data`` to ``value``; ``ValueError`` when a list index is out of range."""
    *path, last = key.split(".")
    node: Any = data
    for i, name in enumerate(path):
        if isinstance(node, list):
            node = _list_item(node, name, ".".join(path[: i + 1]))
        else:
            node = node.setdefault(name, {})
    if isinstance(node, list):
        index = int(last) if last.isdigit() else -1
        _list_item(node, last, key)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ValueError(f"override {key}: {'.'.join(path)} is not a section")


def _list_item(items: list[Any], name: str, key: str) -> Any:
    if not name.isdigit() or int(name) >= len(items):
        raise ValueError(f"override {key}: expected an index below {len(items)}")
    return items[int(name)]


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping in YAML (or JSON) file ``path``; ``ValueError`` naming it otherwise."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: not a readable YAML config ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of config fields, got {type(data).__name__}")
    return data


@dataclass
class DataConfig(ConfigSection):
    """What a run reads. ``dataset``: a local Hub-layout folder or a Hub repo id, or a list of
    them (their splits concatenated, e.g. AnimeCeleb and a build of your own characters).
    ``resolution``: the image size in pixels (``None``: the dataset's, recorded by its build);
    one that differs from the dataset's is refused unless ``resize`` is true. ``styles``: the
    styles to use (``None``: every style). ``batch_size``: samples per step and process.
    ``num_workers``: data-loader worker processes (0: decode in the training process)."""

    MIN_RESOLUTION: ClassVar[int] = 16

    dataset: str | tuple[str, ...] = ""
    resolution: int | None = None
    resize: bool = False
    styles: tuple[str, ...] | None = None
    batch_size: int = 8
    num_workers: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """The datasets as a tuple."""
        return (self.dataset,) if isinstance(self.dataset, str) else tuple(self.dataset)

    def validate(self) -> None:
        if not self.names or not all(isinstance(name, str) and name for name in self.names):
            config_error(
                "dataset", self.dataset, "a local Hub-layout folder or a Hub repo id, or a list"
            )
        if self.resolution is not None:
            check_resolution("resolution", self.resolution, self.MIN_RESOLUTION)
        check_bool("resize", self.resize)
        if self.styles is not None and (
            not isinstance(self.styles, tuple)
            or not self.styles
            or not all(isinstance(s, str) for s in self.styles)
        ):
            config_error("styles", self.styles, "null (every style) or a non-empty list of names")
        check_positive("batch_size", self.batch_size)
        check_non_negative("num_workers", self.num_workers)


def check_resolution(name: str, value: Any, least: int) -> None:
    if not is_int(value) or value < least or value % 16:
        config_error(name, value, f"a multiple of 16, at least {least}")


@dataclass
class OptimizerConfig(ConfigSection):
    """Adam: its peak ``learning_rate`` (the schedule scales it) and ``betas``;
    ``gradient_accumulation_steps`` batches per update."""

    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    gradient_accumulation_steps: int = 1

    def validate(self) -> None:
        check_rate("learning_rate", self.learning_rate)
        if (
            not isinstance(self.betas, tuple)
            or len(self.betas) != 2
            or not all(is_number(b) and 0.0 <= b < 1.0 for b in self.betas)
        ):
            config_error("betas", self.betas, "two numbers in [0, 1)")
        check_positive("gradient_accumulation_steps", self.gradient_accumulation_steps)


@dataclass
class ScheduleConfig(ConfigSection):
    """The learning rate over a span of ``steps`` updates: a linear warm-up over
    ``warmup_steps``, then the peak rate; with ``decay: cosine`` it decays to 0 at the span's end
    along a cosine over its last ``decay_steps`` (``None``: every step after the warm-up)."""

    decay: str = "constant"
    warmup_steps: int = 0
    decay_steps: int | None = None

    def validate(self) -> None:
        check_choice("decay", self.decay, SCHEDULE_DECAYS)
        check_non_negative("warmup_steps", self.warmup_steps)
        if self.decay_steps is not None:
            check_positive("decay_steps", self.decay_steps)

    def check_span(self, steps: int) -> None:
        """:class:`ConfigValueError` when the warm-up and decay do not fit ``steps`` updates."""
        if self.warmup_steps > steps:
            config_error("warmup_steps", self.warmup_steps, f"at most {steps} (the steps)")
        if self.decay_steps is not None and self.warmup_steps + self.decay_steps > steps:
            room = steps - self.warmup_steps
            config_error("decay_steps", self.decay_steps, f"at most {room} (steps - warm-up)")

    def factor(self, step: int, steps: int) -> float:
        """The rate of update ``step`` (0-based, within a span of ``steps``) over the peak rate.
        A pure function of the step, so resuming needs no scheduler state."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.decay == "constant":
            return 1.0
        decay_start = self.warmup_steps if self.decay_steps is None else steps - self.decay_steps
        if step < decay_start:
            return 1.0
        progress = min((step - decay_start) / max(steps - decay_start, 1), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class CheckpointConfig(ConfigSection):
    """Where a run writes and how often: ``output_dir`` (config, checkpoints, logs and the
    exported weights), ``log_every`` and ``checkpoint_every`` (in updates; every stage's last
    update is logged and checkpointed too), ``keep_checkpoints`` (the newest kept)."""

    output_dir: str = "outputs/train"
    log_every: int = 10
    checkpoint_every: int = 200
    keep_checkpoints: int = 2

    def validate(self) -> None:
        if not isinstance(self.output_dir, str) or not self.output_dir:
            config_error("output_dir", self.output_dir, "a folder")
        for name in ("log_every", "checkpoint_every", "keep_checkpoints"):
            check_positive(name, getattr(self, name))


@dataclass
class RunConfig(ConfigSection):
    """What every trainer's config is made of: ``data``, ``optimizer``, ``checkpoints``, the
    ``seed`` (models, data order, augmentation) and ``torch_threads`` (intra-op threads of each
    training process; ``None``: torch's default, one per core; on a CPU shared with other
    work, 1 avoids threads waiting for each other). A trainer's config subclasses it and adds
    its model and its schedule."""

    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)
    seed: int = 0
    torch_threads: int | None = None

    # Fields a resumed run may change: where it writes and how often (a copied run folder
    # goes on as a branch), and how the data is decoded; never what it trains.
    BOOKKEEPING: ClassVar[frozenset[str]] = frozenset(
        {"checkpoints", "data.num_workers", "torch_threads"}
    )

    def validate(self) -> None:
        check_non_negative("seed", self.seed)
        if self.torch_threads is not None:
            check_positive("torch_threads", self.torch_threads)

    @property
    def total_steps(self) -> int:
        """Optimizer updates in all."""
        raise NotImplementedError

    @property
    def output_dir(self) -> Path:
        return Path(self.checkpoints.output_dir)

    @classmethod
    def from_file(cls: type[Section], path: str | Path, overrides: dict[str, Any] | None = None):
        """The config in YAML or JSON file ``path`` with dotted ``overrides`` applied."""
        data = read_mapping(path)
        for key, value in (overrides or {}).items():
            apply_override(data, key, value)
        return cls.from_dict(data, where=str(path))


def parse_overrides(rest: list[str]) -> dict[str, Any]:
    """``--field value`` pairs (values read as YAML: numbers, lists; dotted names for nested
    fields, ``-`` read as ``_``) as a mapping; ``ValueError`` for anything else."""
    if len(rest) % 2 or not all(key.startswith("--") for key in rest[::2]):
        raise ValueError(f"overrides: expected --field value pairs, got {rest}")
    return {
        key[2:].replace("-", "_"): yaml.safe_load(value)
        for key, value in zip(rest[::2], rest[1::2], strict=True)
    }


def parse_config(
    argv: list[str] | None, config_class: type[RunConfig], prog: str, description: str = ""
) -> RunConfig:
    """A run config from a command line: ``--config FILE`` and ``--field value`` overrides
    (``--optimizer.learning_rate 4e-4``). ``description``: the help text (its first paragraph
    is shown)."""
    parser = argparse.ArgumentParser(prog=prog, description=description.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help=f"a YAML file of {config_class.__name__}")
    known, rest = parser.parse_known_args(argv)
    overrides = parse_overrides(rest)
    if known.config is not None:
        return config_class.from_file(known.config, overrides)
    data: dict[str, Any] = {}
    for key, value in overrides.items():
        apply_override(data, key, value)
    return config_class.from_dict(data, where="command line")
