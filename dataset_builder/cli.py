"""Command line: ``python -m dataset_builder {build,demo,render,publish,character}``.

Bad input exits with status 2 and one line naming the value and what was expected.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from animeceleb.pose import POSE_DIM, validate_pose

from .annotation import Annotation
from .annotation_sources import DEFAULT_GROUP_MIN_MODELS
from .build import BACKENDS, BuildSettings, render_all
from .procedural.spec import BODIES
from .publisher import DEFAULT_MAX_SHARD_SIZE, push_to_hub, write_hub_folder
from .sources import UNKNOWN_LICENSE, file_sources, procedural_sources
from .styles import STYLE_NAMES, check_resolution, check_style, parse_styles

logger = logging.getLogger("dataset_builder")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _add_body_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--procedural-body",
        choices=BODIES,
        default="shoulders",
        help="below a procedural head: 'shoulders' (a neck and adult shoulders at the frame's "
        "bottom edge) or 'posed' (short necks, small to adult torsos, arms in T-, A- or down "
        "poses, as real models have; other model ids: procedural-posed-<seed>)",
    )


def _add_build_args(parser: argparse.ArgumentParser, *, procedural: int, samples: int | None):
    parser.set_defaults(default_procedural=procedural)
    parser.add_argument("--out", type=Path, required=True, help="build folder (created or resumed)")
    parser.add_argument(
        "--procedural",
        type=int,
        default=None,
        help=f"procedural characters (default: {procedural}, or 0 when --models is given)",
    )
    parser.add_argument(
        "--models", nargs="+", default=[], help="model files or folders (.vrm, .glb, .gltf, .blend)"
    )
    parser.add_argument("--license", help="licence of the --models files (default: VRM meta)")
    parser.add_argument("--attribution", help="attribution of the --models files")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first character")
    _add_body_arg(parser)
    parser.add_argument("--seed", type=int, default=0, help="pose sampling seed")
    parser.add_argument("--styles", default="all", help=f"'all' or a comma list of {STYLE_NAMES}")
    parser.add_argument("--resolution", type=int, default=256, help="image size in pixels")
    parser.add_argument(
        "--samples-per-model",
        type=int,
        default=samples,
        help="frontal/rotated pairs per model (default: the paper's 100, or 20 for models with "
        "at most 5 target morphs)",
    )
    parser.add_argument(
        "--group-min-models",
        type=_positive_int,
        default=DEFAULT_GROUP_MIN_MODELS,
        help="group annotation: morph names seen in at least this many models are mapped once "
        "for all (by the name dictionary, else by the majority of their inspections) before "
        f"rendering; the rest are inspected model by model (default: {DEFAULT_GROUP_MIN_MODELS})",
    )
    parser.add_argument("--workers", type=_positive_int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="processes",
        help="local spawn-started Blender processes, or Ray tasks (RAY_ADDRESS for a cluster)",
    )
    parser.add_argument("--max-shard-size", default=DEFAULT_MAX_SHARD_SIZE)
    parser.add_argument("--no-progress", action="store_true")


def _settings(args: argparse.Namespace) -> BuildSettings:
    sources = file_sources(args.models, license=args.license, attribution=args.attribution)
    for source in sources:
        if source.license == UNKNOWN_LICENSE:
            logger.warning(
                "%s (%s): no licence in the file and no --license given; it is published as "
                "'unknown' and the dataset card says so",
                source.model_id,
                source.path,
            )
    n_procedural = args.procedural
    if n_procedural is None:
        n_procedural = 0 if sources else args.default_procedural
    if n_procedural or not sources:
        sources = procedural_sources(n_procedural, args.first_seed, args.procedural_body) + sources
    return BuildSettings(
        sources=tuple(sources),
        styles=parse_styles(args.styles),
        resolution=args.resolution,
        seed=args.seed,
        samples_per_model=args.samples_per_model,
        group_min_models=args.group_min_models,
    )


def cmd_build(args: argparse.Namespace) -> Path:
    settings = _settings(args)
    report = render_all(
        settings,
        args.out,
        workers=args.workers,
        progress=not args.no_progress,
        backend=args.backend,
    )
    skipped = report.summary()["models_skipped"]
    if not report.resumed and len(skipped) == len(report.models):
        reasons = "; ".join(f"{model}: {' '.join(why.split())}" for model, why in skipped.items())
        raise ValueError(f"no model was rendered ({reasons}); see {args.out / 'report.json'}")
    hub_dir = write_hub_folder(
        args.out / "render", args.out / "hub", max_shard_size=args.max_shard_size
    )
    print(json.dumps(report.summary(), indent=1))
    print(f"dataset written to {hub_dir} (load_dataset({str(hub_dir)!r}))")
    return hub_dir


def cmd_publish(args: argparse.Namespace) -> None:
    token = args.token or os.environ.get("HF_TOKEN")
    url = push_to_hub(args.hub_dir, args.repo_id, token=token, private=args.private)
    print(f"pushed {args.hub_dir} to {args.repo_id}: {url}")


def cmd_render(args: argparse.Namespace) -> None:
    from .worker import run_in_blender

    poses = [_parse_pose(text) for text in args.pose]
    check_resolution(args.resolution)
    check_style(args.style)
    if args.model is not None:
        (source,) = file_sources([args.model], license=args.license, attribution=args.attribution)
    else:
        source = procedural_sources(1, args.model_seed, args.procedural_body)[0]
    annotation = None
    if args.annotation is not None:
        if not args.annotation.is_file():
            raise ValueError(f"{args.annotation}: no such annotation file")
        Annotation.load(args.annotation)  # a bad file fails here, in one line
        annotation = str(args.annotation)
    images = run_in_blender("render_poses", source, poses, args.style, args.resolution, annotation)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, png in enumerate(images):
        path = args.out / f"{source.model_id}-{args.style}-{i:03d}.png"
        path.write_bytes(png)
        print(path)


def cmd_character(args: argparse.Namespace) -> None:
    from .worker import run_in_blender

    if args.out.suffix.lower() not in (".blend", ".glb"):
        raise ValueError(f"{args.out}: expected a .blend or .glb file name")
    run_in_blender("save_procedural_character", args.seed, str(args.out), args.procedural_body)
    print(f"saved procedural character {args.seed} to {args.out}")


def _parse_pose(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"pose {text!r}: expected {POSE_DIM} comma-separated numbers") from None
    return validate_pose(values, what=f"pose {text!r}").tolist()


def cmd_demo(args: argparse.Namespace) -> None:
    """Build a small dataset from procedural characters, load it back, write a contact sheet."""
    from datasets import load_dataset

    from .contact_sheet import contact_sheet, rows_from_dataset

    hub_dir = cmd_build(args)
    loaded = load_dataset(str(hub_dir))
    for split, ds in loaded.items():
        print(f"load_dataset: {split}: {len(ds)} examples, features: {list(ds.features)}")
    train = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    sheet_path = args.out / "contact_sheet.png"
    contact_sheet(rows_from_dataset(train)).save(sheet_path)
    print(f"contact sheet: {sheet_path}")


def cmd_export_original(args: argparse.Namespace) -> None:
    from .original_layout import export_original_layout

    out = export_original_layout(args.hub_dir, args.out)
    print(f"wrote the original AnimeCeleb layout to {out}")


def cmd_import_original(args: argparse.Namespace) -> None:
    from .original_layout import import_original_layout

    hub = import_original_layout(
        args.original, args.out, license=args.license, attribution=args.attribution
    )
    print(f"dataset written to {hub} (load_dataset({str(hub)!r}))")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dataset_builder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="render models and write the dataset in Hub layout")
    _add_build_args(build, procedural=100, samples=None)
    build.set_defaults(func=cmd_build)
    demo = sub.add_parser("demo", help="small build + load_dataset + contact sheet")
    _add_build_args(demo, procedural=6, samples=3)
    demo.set_defaults(func=cmd_demo)
    publish = sub.add_parser("publish", help="push a built hub/ folder to the Hugging Face Hub")
    publish.add_argument("--hub-dir", type=Path, required=True)
    publish.add_argument("--repo-id", required=True, help="<org>/<name>")
    publish.add_argument("--token", help="a write token (default: $HF_TOKEN or the saved login)")
    publish.add_argument("--private", action="store_true")
    publish.set_defaults(func=cmd_publish)
    render = sub.add_parser("render", help="render given pose vectors of one procedural character")
    render.add_argument("--model-seed", type=int, default=0, help="a procedural character")
    _add_body_arg(render)
    render.add_argument(
        "--model", type=Path, help="a model file instead (.vrm, .glb, .gltf, .fbx, .blend)"
    )
    render.add_argument(
        "--annotation",
        type=Path,
        help="the model's annotation JSON (e.g. a build's annotations/<id>.json, edited); "
        "default: made from its presets, names and inspection, as a build makes it",
    )
    render.add_argument("--license", help="licence of --model (default: VRM meta)")
    render.add_argument("--attribution", help="attribution of --model")
    render.add_argument("--pose", action="append", required=True, help="20 comma-separated values")
    render.add_argument("--style", default="cel", help=f"one of {STYLE_NAMES}")
    render.add_argument("--resolution", type=int, default=256)
    render.add_argument("--out", type=Path, default=Path("outputs/render"))
    render.set_defaults(func=cmd_render)
    character = sub.add_parser("character", help="save a procedural character as .blend or .glb")
    character.add_argument("--seed", type=int, required=True)
    character.add_argument("--out", type=Path, required=True, help="a .blend or .glb file")
    _add_body_arg(character)
    character.set_defaults(func=cmd_character)
    to_original = sub.add_parser(
        "export-original", help="write a Hub folder in the original AnimeCeleb release layout"
    )
    to_original.add_argument("--hub-dir", type=Path, required=True)
    to_original.add_argument("--out", type=Path, required=True, help="a new folder")
    to_original.set_defaults(func=cmd_export_original)
    from_original = sub.add_parser(
        "import-original", help="convert the original AnimeCeleb release layout to a Hub folder"
    )
    from_original.add_argument("--original", type=Path, required=True, help="its root folder")
    from_original.add_argument("--out", type=Path, required=True, help="a new build folder")
    from_original.add_argument("--license", required=True, help="the release's licence")
    from_original.add_argument("--attribution", required=True, help="the release's credit")
    from_original.set_defaults(func=cmd_import_original)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    args = build_parser().parse_args(argv)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(console)
    logger.setLevel(logging.INFO)
    try:
        args.func(args)
    except (ValueError, OSError, RuntimeError) as error:  # bad input, files, Blender, workers
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
