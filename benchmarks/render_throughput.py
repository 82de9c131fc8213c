"""Render throughput end to end into Parquet: images per second per style, 1 and N workers.

Each configuration is a fresh build (worker start-up, Blender import, character building, renders,
part files and the final Parquet shards all count). The 1-worker run is the baseline; the ratio of
each N-worker run to it is measured in the same invocation.

With ``--real FILE_OR_FOLDER``, each configuration is also built from real model files (each
file ``--models`` times over, under distinct ids, so both sets have as many models and images),
and each real row is compared with the procedural row of the same style and workers.

    python benchmarks/render_throughput.py --models 4 --samples 10 --resolution 256
    python benchmarks/render_throughput.py --styles cel --workers 2 --real ../shared/models
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from machine import describe_machine  # benchmarks/machine.py

from dataset_builder.build import BuildSettings, render_all
from dataset_builder.publisher import write_hub_folder
from dataset_builder.sources import ModelSource, file_sources, procedural_sources
from dataset_builder.styles import parse_styles


def real_sources(paths: list[Path], copies: int) -> list[ModelSource]:
    """Each model file under ``paths`` ``copies`` times, under distinct model ids."""
    return [
        dataclasses.replace(source, model_id=f"{source.model_id}-{i}")
        for source in file_sources(paths)
        for i in range(copies)
    ]


def measure(
    kind: str, sources: list[ModelSource], style: str, workers: int, args: argparse.Namespace
) -> dict:
    settings = BuildSettings(
        sources=tuple(sources),
        styles=(style,),
        resolution=args.resolution,
        samples_per_model=args.samples,
    )
    out = Path(tempfile.mkdtemp(prefix="bench-")) / "build"
    try:
        start = time.perf_counter()
        report = render_all(settings, out, workers=workers, progress=False)
        rendered = time.perf_counter()
        write_hub_folder(out / "render", out / "hub", contact_sheet=False)
        total = time.perf_counter() - start
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    images = report.summary()["images_rendered"]
    return {
        "models": kind,
        "style": style,
        "workers": workers,
        "images": images,
        "render_s": round(rendered - start, 2),
        "hub_folder_s": round(start + total - rendered, 2),
        "total_s": round(total, 2),
        "images_per_s": round(images / total, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--samples", type=int, default=10, help="frontal/rotated pairs per model")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--styles", default="all")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument(
        "--real", type=Path, nargs="+", help="also time these model files or folders"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    model_sets = {"procedural": procedural_sources(args.models, args.first_seed)}
    if args.real:
        model_sets["real"] = real_sources(args.real, args.models)
    results = [
        measure(kind, sources, style, workers, args)
        for style in parse_styles(args.styles)
        for workers in args.workers
        for kind, sources in model_sets.items()
    ]
    procedural = {
        (r["style"], r["workers"]): r["images_per_s"]
        for r in results
        if r["models"] == "procedural"
    }
    baseline = {
        r["style"]: r["images_per_s"]
        for r in results
        if r["models"] == "procedural" and r["workers"] == args.workers[0]
    }
    for r in results:
        r["ratio_vs_baseline"] = round(r["images_per_s"] / baseline[r["style"]], 2)
        r["ratio_vs_procedural"] = round(
            r["images_per_s"] / procedural[(r["style"], r["workers"])], 2
        )
    machine = describe_machine()
    print(f"machine: {machine}; {args.models} models x (1 + 2 x {args.samples}) images per row")
    print(
        f"{'models':<10} {'style':<12} {'workers':>7} {'images':>6} {'total s':>8} "
        f"{'img/s':>6} {'ratio':>6} {'vs proc':>7}"
    )
    for r in results:
        print(
            f"{r['models']:<10} {r['style']:<12} {r['workers']:>7} {r['images']:>6} "
            f"{r['total_s']:>8} {r['images_per_s']:>6} {r['ratio_vs_baseline']:>6} "
            f"{r['ratio_vs_procedural']:>7}"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
