"""Ship a trained run as a Hub-layout model folder: the weights that ``AniMoPipeline``
(``PIRendererGenerator``) loads, or a LoRA run's adapter alone, their ``training_history.json``
(how they were made, stage by stage), the evaluation and a model card rendered from all of it
(:mod:`training.cards`); optionally uploaded to the Hub. A pose-regressor run ships its weights,
config and card (:mod:`training.regressor`).

    animeceleb-publish --run outputs/train/animo-lora --evaluation outputs/eval/animo-lora \\
        --data-command "python -m dataset_builder build --out outputs/animeceleb-500 ..." \\
        --out weights/animo-lora [--push-to-hub --repo-id user/animo-lora]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from diffusers.loaders.lora_base import LORA_WEIGHT_NAME_SAFE

from animo_hf import AniMoPipeline, PIRendererGenerator

from .animo.configuration_animo import TrainConfig
from .cards import EVALUATION_FILE, model_card
from .history import HISTORY_FILE
from .runs import export_weights, hub_dataset_ids

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
EVALUATION_FILES = {"results.json": EVALUATION_FILE, "results.md": "evaluation_results.md"}
DEFAULT_REPO_IDS = {
    "animo": "animeceleb-hf/animo",
    "pirenderer": "animeceleb-hf/pirenderer-baseline",
}


def run_kind(config: TrainConfig) -> str:
    """``animo``, ``lora`` (an adapter) or ``pirenderer``."""
    if config.model.lora is not None:
        return "lora"
    return config.model.name


def default_repo_id(config: TrainConfig, base_repo_id: str) -> str:
    """The repository a run's card names when ``--repo-id`` is not given: the model's own, or
    ``<base>-lora`` for an adapter (which never ships under its base's id)."""
    if run_kind(config) == "lora":
        return f"{base_repo_id}-lora"
    return DEFAULT_REPO_IDS[config.model.name]


def read_config(run: Path) -> TrainConfig:
    path = run / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; not a training run folder")
    return TrainConfig.from_file(path)


def write_weights(run: Path, kind: str, folder: Path, dtype: torch.dtype) -> None:
    """The run's exported weights (a LoRA run: its adapter alone), stored in ``dtype``, with
    their history, into the new ``folder``."""
    exported = run / ("lora" if kind == "lora" else "weights")
    if not (exported / HISTORY_FILE).is_file():
        raise FileNotFoundError(f"{exported}: no exported weights with their {HISTORY_FILE}")
    if kind == "lora":
        folder.mkdir(parents=True)
        path = exported / LORA_WEIGHT_NAME_SAFE
        with safetensors.safe_open(str(path), "pt") as handle:
            tensors = {key: handle.get_tensor(key).to(dtype) for key in handle.keys()}  # noqa: SIM118
            metadata = handle.metadata()
        safetensors.torch.save_file(tensors, folder / LORA_WEIGHT_NAME_SAFE, metadata=metadata)
    elif kind == "pirenderer":
        PIRendererGenerator.from_pretrained(exported, dtype=dtype).save_pretrained(folder)
    else:
        AniMoPipeline.from_pretrained(exported, dtype=dtype).save_pretrained(folder)
    shutil.copyfile(exported / HISTORY_FILE, folder / HISTORY_FILE)


def publish(
    run: Path,
    out: Path,
    *,
    evaluation: Path | None,
    data_command: str,
    repo_id: str,
    model_name: str,
    limitations: list[str],
    attributions: list[str],
    dataset_id: str | None = None,
    speed: str | None = None,
    dtype: str = "float32",
    base_repo_id: str = "animeceleb-hf/animo",
) -> Path:
    """Write the shipped folder ``out`` of an AniMo, LoRA or baseline run, replaced only once
    complete, and return it. ``dtype``: how the safetensors store the weights (``float16``
    halves the folder; ``from_pretrained`` loads them as float32). A LoRA run's card loads its
    adapter onto ``base_repo_id``, the pipeline its ``model.init_weights`` hold."""
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"--dtype {dtype}: expected one of {sorted(STORAGE_DTYPES)}")
    config = read_config(run)
    kind = run_kind(config)
    if kind == "lora" and repo_id == base_repo_id:
        raise ValueError(
            f"--repo-id {repo_id}: the adapter's repository must differ from its base "
            f"(--base-repo-id {base_repo_id}), e.g. {default_repo_id(config, base_repo_id)}"
        )
    if kind == "pirenderer" and speed is not None:
        raise ValueError("--speed: the baseline's card has no speed line")
    datasets = [dataset_id] if dataset_id else hub_dataset_ids(config.data.dataset)

    def save(folder: Path) -> None:
        write_weights(run, kind, folder, STORAGE_DTYPES[dtype])
        if evaluation is not None:
            for name, shipped in EVALUATION_FILES.items():
                shutil.copyfile(evaluation / name, folder / shipped)
        card = model_card(
            folder,
            kind=kind,
            repo_id=repo_id,
            model_name=model_name,
            data_command=data_command,
            limitations=limitations,
            attributions=attributions,
            datasets=datasets,
            speed=speed,
            weights_dtype=dtype,
            base=(base_repo_id, Path(config.model.init_weights)) if kind == "lora" else None,
        )
        card.save(folder / "README.md")

    out.parent.mkdir(parents=True, exist_ok=True)
    export_weights(save, out)
    return out


def is_regressor_run(run: Path) -> bool:
    config = run / "config.json"
    return config.is_file() and "stages" not in json.loads(config.read_text(encoding="utf-8"))


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
    parser.add_argument(
        "--evaluation", type=Path, help="an animeceleb-eval output folder (results.json/.md)"
    )
    parser.add_argument(
        "--data-command", help="the command that rebuilds the training data (AniMo runs)"
    )
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
        help="a LoRA run's base pipeline, as its card names it (the run's model.init_weights)",
    )
    parser.add_argument("--push-to-hub", action="store_true", help="upload to --repo-id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    args = parse_args(argv)
    try:
        if is_regressor_run(args.run):
            from .regressor.publish import publish_regressor

            if args.dtype != "float32":
                raise ValueError(f"--dtype {args.dtype}: a pose-regressor run ships float32 only")
            folder = publish_regressor(args.run, args.out, dataset_id=args.dataset_id)
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
