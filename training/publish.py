"""Ship a trained AniMo (or PIRenderer-style baseline, or pose-regressor) run as a Hub-layout
model folder: the weights that ``AniMoPipeline.from_pretrained`` (``PIRendererGenerator``) loads,
a model card rendered from the template with what was measured, the configs that retrain it and
the evaluation; optionally uploaded to the Hub.

    animeceleb-publish --run outputs/train/animo-ft --evaluation outputs/eval/animo-ft \\
        --data-command "python -m dataset_builder build --out outputs/animeceleb-100 ..." \\
        --hardware "a 2-core x86_64 CPU VM" --out weights/animo [--push-to-hub user/animo]

A run started from another run's weights (``init_weights``) is shipped with that run too: the
card's schedule, steps and time cover the whole chain, and ``training/`` holds each run's config
(``1-<run>.json``, ``2-<run>.json``, ...), which ``animeceleb-train --config`` reads as it is, and
``chain.json`` (each run's steps, the chain's training time). A run resumed with a changed
config (``stages.json`` in its folder: a longer run, a cool-down) is shipped as one config per
stage, run one after another in the same folder. A chain that starts from a shipped
folder (a fine-tune of ``weights/animo``, whose run folders are gone) continues that folder's
chain: its runs come first, and the first new run's config names the weights its last run
exported.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from diffusers.loaders.lora_base import LORA_WEIGHT_NAME_SAFE

from animo_hf import AniMoPipeline, PIRendererGenerator
from animo_hf.model_card import animo_model_card, parameter_summary, pirenderer_model_card
from dataset_builder.files import differing_keys, write_atomic

from .config import TrainConfig
from .data import dataset_names, load_split
from .runs import (
    BOOKKEEPING,
    STAGES_FILE,
    checkpoint_step,
    export_weights,
    hub_dataset_ids,
    latest_checkpoint,
    read_stages,
)

TRAINING_FOLDER = "training"
CHAIN_FILE = "chain.json"
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
EVALUATION_FILES = ("results.json", "results.md")
DEFAULT_REPO_IDS = {
    "animo": "animeceleb-hf/animo",
    "pirenderer": "animeceleb-hf/pirenderer-baseline",
}
# a folder shipped before CHAIN_FILE existed gives its chain's time on its card's line
CARD_TIME = re.compile(r"^- Time and hardware: (about )?([\d,]+) minutes", re.MULTILINE)


@dataclass(frozen=True)
class Chain:
    """The runs that made a set of weights, first to last, one entry per stage of a run: its
    name (the run folder's), config, the step it began at (0: a new run; N: the same run resumed
    at step N with a changed config) and steps, and the time they took together (``exact``:
    measured, not estimated)."""

    names: list[str]
    configs: list[TrainConfig]
    starts: list[int]
    steps: list[int]
    seconds: float
    exact: bool

    def then(self, later: Chain) -> Chain:
        """This chain followed by ``later``, whose first run started from this one's weights
        (or, with ``init_lora``, trained further the adapter this chain's last run exported):
        that run's configs (each of its stages) name the folders this chain's last run
        exported (the adapter's base: the one that run was trained on)."""
        if not self.names:
            return later
        last = self.configs[-1]
        starts_from = (
            {"init_weights": last.init_weights, "init_lora": f"{last.output_dir}/lora"}
            if later.configs[0].init_lora
            else {"init_weights": f"{last.output_dir}/weights"}
        )
        first_run = next((i for i, s in enumerate(later.starts) if i and not s), len(later.starts))
        configs = [
            dataclasses.replace(config, **starts_from) if i < first_run else config
            for i, config in enumerate(later.configs)
        ]
        return Chain(
            self.names + later.names,
            self.configs + configs,
            self.starts + later.starts,
            self.steps + later.steps,
            self.seconds + later.seconds,
            self.exact and later.exact,
        )

    def ends_with(self, runs: Chain) -> bool:
        """Whether this chain's last runs are ``runs`` (names and configs alike, but where the
        first one started): a shipped folder published again from the runs that made it."""
        n = len(runs.names)
        if not 0 < n <= len(self.names) or self.names[-n:] != runs.names:
            return False
        return all(
            without_start(mine) == without_start(theirs)
            for mine, theirs in zip(self.configs[-n:], runs.configs, strict=True)
        )


def without_start(config: TrainConfig) -> dict:
    """``config``'s values but the weights and adapter it started from."""
    values = config.to_dict()
    del values["init_weights"], values["init_lora"]
    return values


NO_CHAIN = Chain([], [], [], [], 0.0, True)


def run_chain(run: Path) -> list[Path]:
    """The run folders that made ``run``'s weights, first to last, following ``init_lora`` (or
    else ``init_weights``) back while it names the ``lora/`` (``weights/``) folder of another
    run folder."""
    chain = [run]
    while True:
        first = read_config(chain[0])
        init = first.init_lora or first.init_weights
        parent = Path(init).parent if init else None
        if parent is None or not (parent / "config.json").is_file() or parent in chain:
            return chain
        chain.insert(0, parent)


def run_stages(run: Path) -> list[tuple[TrainConfig, int, int]]:
    """Each stage of ``run`` (``stages.json``, then its current config): the config it trained
    with, under the run's own ``output_dir`` (so the stages' commands go on in one folder), the
    step it began at and the steps it trained (at least one)."""
    final = read_config(run)
    configs, ends = [], []
    for stage in read_stages(run):
        config = TrainConfig.from_dict(stage["config"], where=str(run / STAGES_FILE))
        configs.append(dataclasses.replace(config, output_dir=final.output_dir))
        ends.append(stage["until_step"])
    configs.append(final)
    ends.append(trained_steps(run))
    starts = [0, *ends[:-1]]
    stages = zip(configs, starts, ends, strict=True)
    return [(c, s, e - s) for c, s, e in stages if e > s]  # a config that trained no step is none


def trained_chain(run: Path) -> Chain:
    """The chain of run folders that made ``run``'s weights (:func:`run_chain`), each run's
    stages in turn (:func:`run_stages`), after the chain of the shipped folder its first run
    started from, if it did (:func:`shipped_chain`)."""
    runs = run_chain(run)
    stages = [(r.name, *stage) for r in runs for stage in run_stages(r)]
    timings = [training_seconds(r, read_config(r)) for r in runs]
    names, configs, starts, steps = (list(column) for column in zip(*stages, strict=True))
    trained = Chain(
        names, configs, starts, steps, sum(t for t, _ in timings), all(e for _, e in timings)
    )
    shipped = shipped_chain(configs[0].init_lora or configs[0].init_weights)
    if shipped.ends_with(trained):  # the folder it started from is its own, published again
        return shipped
    return shipped.then(trained)


def shipped_chain(folder: str | Path | None) -> Chain:
    """The chain recorded in a shipped AniMo or baseline folder (``training/N-<run>.json``);
    :data:`NO_CHAIN` for anything else (a fresh model, a run folder's weights, a Hub id). A
    folder shipped before ``training/chain.json`` existed gives each run's ``max_steps`` and
    the time on its card."""
    folder = Path(folder) if folder else None
    if folder is None or not (folder / TRAINING_FOLDER).is_dir():
        return NO_CHAIN
    numbered = [p for p in (folder / TRAINING_FOLDER).glob("*-*.json") if p.stem[0].isdigit()]
    if not numbered:
        return NO_CHAIN
    files = sorted(numbered, key=lambda p: int(p.stem.partition("-")[0]))
    configs = [TrainConfig.from_yaml(p) for p in files]
    names = [p.stem.partition("-")[2] for p in files]
    record_file = folder / TRAINING_FOLDER / CHAIN_FILE
    if record_file.is_file():
        record = json.loads(record_file.read_text(encoding="utf-8"))
        starts = record.get("starts", [0] * len(configs))  # shipped before stages were recorded
        return Chain(names, configs, starts, record["steps"], record["seconds"], record["exact"])
    card = folder / "README.md"
    found = CARD_TIME.search(card.read_text(encoding="utf-8")) if card.is_file() else None
    if found is None:
        raise ValueError(
            f"{folder}: no {TRAINING_FOLDER}/{CHAIN_FILE} and no '- Time and hardware: N "
            "minutes' line in README.md; the time of the chain it continues is unknown"
        )
    minutes = float(found.group(2).replace(",", ""))
    steps = [c.max_steps for c in configs]
    return Chain(names, configs, [0] * len(configs), steps, minutes * 60, not found.group(1))


def default_repo_id(config: TrainConfig, base_repo_id: str) -> str:
    """The repository a run's card names when ``--repo-id`` is not given: the model's own, or
    ``<base>-lora`` for an adapter (which never ships under its base's id)."""
    if config.lora_rank is not None:
        return f"{base_repo_id}-lora"
    return DEFAULT_REPO_IDS[config.model]


def read_config(run: Path) -> TrainConfig:
    path = run / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; not a training run folder")
    return TrainConfig.from_yaml(path)


def trained_steps(run: Path) -> int:
    """The step of ``run``'s last checkpoint (``ValueError`` when it has none)."""
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        raise ValueError(f"{run}: no checkpoint; nothing was trained")
    return checkpoint_step(checkpoint)


def training_seconds(run: Path, config: TrainConfig) -> tuple[float, bool]:
    """Wall time of ``run`` from its ``metrics.jsonl`` and whether it is exact: each process
    that ran it logs ``elapsed_s`` since it started, so the time is the sum of each session's
    last value. Records of runs logged before ``elapsed_s`` existed give an estimate from the
    logged throughput instead (``False``)."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").open(encoding="utf-8")]
    records = [r for r in records if "samples_per_s" in r]
    if records and all("elapsed_s" in r for r in records):
        total, last = 0.0, 0.0
        for record in records:
            if record["elapsed_s"] < last:  # a new session began
                total += last
            last = record["elapsed_s"]
        return total + last, True
    per_step = config.batch_size * config.gradient_accumulation_steps
    rates = sorted(r["samples_per_s"] for r in records) or [float("nan")]
    return trained_steps(run) * per_step / rates[len(rates) // 2], False


def loss_summary(config: TrainConfig) -> str:
    """The loss terms with a non-zero weight, as ``name weight`` pairs."""
    terms = {k: v for k, v in config.to_dict()["loss"].items() if v}
    return ", ".join(f"{name.replace('_', ' ')} {weight:g}" for name, weight in terms.items())


def rate_summary(config: TrainConfig, start: int = 0) -> str:
    """The learning-rate schedule from step ``start`` on, in words
    (``training.config.learning_rate_at``)."""
    warming = config.warmup_steps and start < config.schedule_start + config.warmup_steps
    warmup = f" after a {config.warmup_steps}-step warm-up" if warming else ""
    if config.lr_schedule == "constant":
        return f"Adam lr {config.learning_rate:g} (constant{warmup})"
    span = f"the last {config.decay_steps} steps" if config.decay_steps else "the run"
    return f"Adam lr {config.learning_rate:g} decaying to 0 along a cosine over {span}{warmup}"


def critic_summary(config: TrainConfig) -> str:
    """The discriminator's own rate, updates per step and warm-up, in words ('' when it has
    none of them)."""
    parts = []
    if config.discriminator_learning_rate is not None:
        parts.append(f"the discriminator's lr {config.discriminator_learning_rate:g}")
    if config.discriminator_updates > 1:
        parts.append(f"{config.discriminator_updates} discriminator updates per step")
    if config.discriminator_warmup_steps:
        parts.append(
            f"the first {config.discriminator_warmup_steps} steps training the discriminator "
            "alone (the model frozen)"
        )
    return "".join(f", {part}" for part in parts)


def schedule_summary(config: TrainConfig, steps: int) -> str:
    """A run of a chain (its first stage) in words."""
    phase = (
        f"{config.warp_only_steps} on the warping path alone, then the whole model"
        if config.warp_only_steps
        else "the whole model"
    )
    start = ""
    if config.init_weights:  # init_lora needs init_weights (TrainConfig.validate)
        adapter = f" with the adapter of {config.init_lora}" if config.init_lora else ""
        start = f"from {config.init_weights}{adapter}, "
    return (
        f"{start}{steps} steps ({phase}) at {config.resolution}², batch {config.batch_size}, "
        f"{rate_summary(config)}{critic_summary(config)}, betas {tuple(config.betas)}; losses: "
        f"{loss_summary(config)}"
    )


def resumed_summary(previous: TrainConfig, config: TrainConfig, steps: int, start: int) -> str:
    """A later stage of a run in words: what its config changed and the rate from ``start``."""
    before, after = previous.to_dict(), config.to_dict()
    changed = []
    for key in differing_keys(before, after):
        if key == "loss":
            weights = differing_keys(before["loss"], after["loss"])
            changed += [f"loss.{name} {after['loss'][name]:g}" for name in weights]
        elif key == "dataset":
            changed.append(f"the data {dataset_names(config.dataset)}")
        elif key not in BOOKKEEPING:
            changed.append(f"{key} {getattr(config, key)}")
    with_changes = f" with {', '.join(changed)}" if changed else ""
    rate = rate_summary(config, start)
    return f"resumed at step {start}{with_changes}: {steps} more steps, {rate}"


def chain_summary(chain: Chain) -> str:
    """Every stage of ``chain`` in words, first to last."""
    parts = []
    for i, (config, steps, start) in enumerate(
        zip(chain.configs, chain.steps, chain.starts, strict=True)
    ):
        if start:
            parts.append(resumed_summary(chain.configs[i - 1], config, steps, start))
        else:
            parts.append(schedule_summary(config, steps))
    return "; then ".join(parts)


def data_summary(config: TrainConfig) -> tuple[str, str]:
    """What the last run trained on, and the licences of its characters."""
    train = load_split(config.dataset)
    models = train.select_columns(["model_id", "license"]).to_pandas().drop_duplicates()
    styles = config.styles or train.features["style"].names
    splits = "split" if isinstance(config.dataset, str) else "splits"
    summary = (
        f"the train {splits} of {dataset_names(config.dataset)}: {len(train):,} images of "
        f"{len(models)} characters in the styles {', '.join(styles)}"
    )
    return summary, ", ".join(sorted(models["license"].unique()))


def publish(
    run: Path,
    out: Path,
    *,
    evaluation: Path | None,
    data_command: str,
    hardware: str,
    repo_id: str,
    model_name: str,
    limitations: list[str],
    attributions: Sequence[str] = (),
    dataset_id: str | None = None,
    speed: str | None = None,
    dtype: str = "float32",
    base_repo_id: str = "animeceleb-hf/animo",
) -> Path:
    """Write the shipped folder ``out`` of an AniMo run, or of a PIRenderer-style baseline run
    (``model: pirenderer``: the generator and its own card, no ``speed``), replaced only once
    complete, and return it. ``dtype``: how the safetensors store the weights (``float16``
    halves the folder; ``from_pretrained`` loads them as float32). A run trained with
    ``lora_rank`` ships its adapter alone (``pytorch_lora_weights.safetensors``, in ``dtype``),
    with a card that loads it onto ``base_repo_id``, the pipeline its ``init_weights`` hold."""
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"--dtype {dtype}: expected one of {sorted(STORAGE_DTYPES)}")
    chain = trained_chain(run)
    configs = chain.configs
    if configs[-1].lora_rank is not None and repo_id == base_repo_id:
        raise ValueError(
            f"--repo-id {repo_id}: the adapter's repository must differ from its base "
            f"(--base-repo-id {base_repo_id}), e.g. {default_repo_id(configs[-1], base_repo_id)}"
        )
    data, licences = data_summary(configs[-1])
    files = [f"{i}-{name}.json" for i, name in enumerate(chain.names, start=1)]
    commands = [data_command] + [f"animeceleb-train --config {TRAINING_FOLDER}/{f}" for f in files]
    training = {
        "data": data,
        "losses": loss_summary(configs[-1]),
        "schedule": chain_summary(chain),
        "steps": sum(chain.steps),
        "time": f"{'' if chain.exact else 'about '}{chain.seconds / 60:.0f} minutes",
        "hardware": hardware,
        "commands": "\n".join(commands),
        "licences": licences,
    }
    evaluation_md = None
    if evaluation is not None:  # its sections one level down, under the card's "Evaluation"
        text = (evaluation / "results.md").read_text(encoding="utf-8")
        evaluation_md = re.sub(r"^## ", "### ", text, flags=re.MULTILINE)
    hub_ids = [dataset_id] if dataset_id else hub_dataset_ids(configs[-1].dataset)
    torch_dtype = STORAGE_DTYPES[dtype]
    values = {
        "model_name": model_name,
        "repo_id": repo_id,
        "resolution": configs[-1].resolution,
        "training": training,
        "evaluation": evaluation_md,
        "limitations": limitations,
        "attributions": list(attributions),
        "datasets": hub_ids or None,
        "weights_dtype": dtype,
    }
    if configs[-1].model == "pirenderer":
        if speed is not None:
            raise ValueError("--speed: the baseline's card has no speed line")
        model = PIRendererGenerator.from_pretrained(run / "weights", dtype=torch_dtype)
        card = pirenderer_model_card(config_summary=parameter_summary(model), **values)
    else:
        model = AniMoPipeline.from_pretrained(run / "weights", dtype=torch_dtype)
        # the size it was trained at is the pipeline's default frame size (runs before the
        # editing network recorded it saved the default)
        model.editing_network.register_to_config(sample_size=configs[-1].resolution)
        if configs[-1].lora_rank is not None:
            adapter = read_adapter(run, torch_dtype)
            values["lora"] = lora_summary(configs[-1], adapter, base_repo_id)
        card = animo_model_card(config_summary=config_summary(model), speed=speed, **values)

    def save(folder: Path) -> None:
        if values.get("lora") is None:
            model.save_pretrained(folder)
        else:  # the adapter alone: AniMoPipeline.load_lora_weights fuses it into the base
            folder.mkdir(parents=True)
            tensors, metadata = adapter
            safetensors.torch.save_file(tensors, folder / LORA_WEIGHT_NAME_SAFE, metadata=metadata)
        card.save(folder / "README.md")
        (folder / TRAINING_FOLDER).mkdir()
        for name, config in zip(files, configs, strict=True):
            write_atomic(folder / TRAINING_FOLDER / name, json.dumps(config.to_dict()))
        record = {
            "steps": chain.steps,
            "starts": chain.starts,
            "seconds": round(chain.seconds, 3),  # a tiny run takes milliseconds
            "exact": chain.exact,
        }
        write_atomic(folder / TRAINING_FOLDER / CHAIN_FILE, json.dumps(record))
        if evaluation is not None:
            for name in EVALUATION_FILES:
                shutil.copyfile(evaluation / name, folder / f"evaluation_{name}")

    out.parent.mkdir(parents=True, exist_ok=True)
    export_weights(save, out)
    return out


def read_adapter(run: Path, dtype: torch.dtype) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The LoRA adapter a run exported (``lora/``), its tensors in ``dtype``, and its metadata."""
    path = run / "lora" / LORA_WEIGHT_NAME_SAFE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; a run with lora_rank exports it with weights/")
    with safetensors.safe_open(str(path), "pt") as handle:
        tensors = {key: handle.get_tensor(key).to(dtype) for key in handle.keys()}  # noqa: SIM118
        return tensors, handle.metadata()


def lora_summary(
    config: TrainConfig, adapter: tuple[dict[str, torch.Tensor], dict[str, str]], base: str
) -> dict[str, str | int]:
    """The card's ``lora`` values of an adapter fine-tuned from the pipeline ``base``."""
    parameters = sum(tensor.numel() for tensor in adapter[0].values())
    *others, last = [name.removesuffix("_network") for name in config.lora_components]
    networks = f"{', '.join(others)} and {last} networks" if others else f"{last} network"
    return {
        "base": base,
        "rank": config.lora_rank,
        "components": networks,
        "parameters": f"{parameters:,} parameters",
    }


def publish_regressor(
    run: Path, out: Path, *, hardware: str, dataset_id: str | None = None
) -> Path:
    """Write the shipped folder of a pose-regressor run: weights, its card (rendered again from
    the current template, with the run's final evaluation) and ``training_config.json``."""
    from .regressor import load_regressor
    from .regressor_card import regressor_model_card
    from .train_regressor import RegressorConfig, write_regressor_folder

    config = RegressorConfig.from_yaml(run / "config.json")
    evaluation_file = run / "evaluation.json"
    if not evaluation_file.is_file():
        raise FileNotFoundError(f"{evaluation_file}: missing; the run has not finished")
    evaluation = json.loads(evaluation_file.read_text(encoding="utf-8"))
    model = load_regressor(run / "weights")
    card = regressor_model_card(
        model,
        config,
        steps=trained_steps(run),
        hardware=hardware,
        evaluation=evaluation,
        dataset_id=dataset_id,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    export_weights(partial(write_regressor_folder, model=model, card=card, config=config), out)
    return out


def is_regressor_run(run: Path) -> bool:
    config = run / "config.json"
    return config.is_file() and "hidden_sizes" in json.loads(config.read_text(encoding="utf-8"))


def config_summary(pipe: AniMoPipeline) -> str:
    """Each network's channels and its parameter count."""
    parts: list[str] = []
    for name in ("motion_network", "warping_network", "editing_network"):
        module = getattr(pipe, name)
        channels = module.config.get("block_out_channels")
        parts.append(
            f"{name} {parameter_summary(module)}" + (f" {tuple(channels)}" if channels else "")
        )
    return "; ".join(parts)


def push(folder: Path, repo_id: str) -> str:
    """Upload ``folder`` to the model repo ``repo_id`` (created if needed); returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model")
    return f"https://huggingface.co/{repo_id}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="animeceleb-publish", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run", type=Path, required=True, help="a training run folder")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument("--evaluation", type=Path, help="an animeceleb-eval output folder")
    parser.add_argument("--data-command", help="the command that built the data (AniMo runs)")
    parser.add_argument("--hardware", required=True, help="where it trained, in words")
    parser.add_argument(
        "--repo-id",
        help="the id the card names (default: animeceleb-hf/animo, animeceleb-hf/pirenderer-"
        "baseline for a baseline run, <--base-repo-id>-lora for a LoRA run)",
    )
    parser.add_argument("--model-name", default="AniMo-CPU")
    parser.add_argument("--speed", help="measured speed, in words (benchmarks/animate_fps.py)")
    parser.add_argument(
        "--limitation", action="append", default=[], help="a sentence for the card (repeatable)"
    )
    parser.add_argument(
        "--dataset-id",
        help="the Hub id the training data is published under (the card's datasets YAML)",
    )
    parser.add_argument(
        "--attribution",
        action="append",
        default=[],
        help="a sentence crediting a third-party character whose renders appear with the model",
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        help="how the safetensors store the weights: float32, or float16 (half the size; they "
        "load as float32)",
    )
    parser.add_argument(
        "--base-repo-id",
        default="animeceleb-hf/animo",
        help="a LoRA run's base pipeline, as its card names it (the run's init_weights)",
    )
    parser.add_argument("--push-to-hub", action="store_true", help="upload to --repo-id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    args = parse_args(argv)
    try:
        if is_regressor_run(args.run):
            if args.dtype != "float32":
                raise ValueError(f"--dtype {args.dtype}: a pose-regressor run ships float32 only")
            folder = publish_regressor(
                args.run, args.out, hardware=args.hardware, dataset_id=args.dataset_id
            )
            print(f"published {folder}")
            return 0
        if args.evaluation is not None:
            missing = [n for n in EVALUATION_FILES if not (args.evaluation / n).is_file()]
            if missing:
                raise FileNotFoundError(f"{args.evaluation}: no {missing}; not an eval folder")
        if not args.data_command:
            raise ValueError(
                "--data-command: needed for an AniMo or baseline run (the card names it)"
            )
        repo_id = args.repo_id or default_repo_id(read_config(args.run), args.base_repo_id)
        folder = publish(
            args.run,
            args.out,
            evaluation=args.evaluation,
            data_command=args.data_command,
            hardware=args.hardware,
            repo_id=repo_id,
            model_name=args.model_name,
            limitations=args.limitation,
            attributions=args.attribution,
            dataset_id=args.dataset_id,
            speed=args.speed,
            dtype=args.dtype,
            base_repo_id=args.base_repo_id,
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"published {folder}")
    if args.push_to_hub:
        print(f"uploaded to {push(folder, repo_id)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
