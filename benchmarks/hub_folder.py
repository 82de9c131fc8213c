"""Time to write a build's Hub folder (the ``datasets`` builder over the render parts, the Parquet
shards and the card; no contact sheet), on parts rendered once at a small size so that the
per-row cost, not the image bytes, dominates.

    python benchmarks/hub_folder.py --models 10 --samples 100 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from machine import describe_machine  # benchmarks/machine.py

from dataset_builder.build import BuildSettings, render_all
from dataset_builder.publisher import write_hub_folder
from dataset_builder.sources import procedural_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--samples", type=int, default=100, help="frontal/rotated pairs per model")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    settings = BuildSettings(
        sources=tuple(procedural_sources(args.models, 200)),
        styles=("cel",),
        resolution=args.resolution,
        samples_per_model=args.samples,
    )
    root = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    try:
        report = render_all(settings, root / "build", workers=2, progress=False)
        rows = report.summary()["images_rendered"]
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            write_hub_folder(root / "build" / "render", root / "hub", contact_sheet=False)
            seconds.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    best, median = min(seconds), statistics.median(seconds)
    machine = describe_machine()
    print(f"machine: {machine}")
    print(
        f"write_hub_folder, {rows} rows ({args.models} parts, {args.resolution}²): "
        f"best {best:.2f} s, median {median:.2f} s, {rows / best:.0f} rows/s"
    )
    if args.json:
        result = {"rows": rows, "best_s": best, "median_s": median, "rows_per_s": rows / best}
        args.json.write_text(json.dumps({"machine": machine, "hub_folder": result}, indent=1))


if __name__ == "__main__":
    main()
