"""What a bigger editing network costs per frame: parameters and animate FPS of AniMo at 256² for
several editing-network sizes, against the shipped default in the same run.

Usage (from the repository root; R=research/animo-cpu/benchmarks)::

    python $R/editing_sizes.py [--size 256] [--seconds 2] [--rounds 3] [--json out.json]
    python $R/editing_sizes.py 64,64,96/2 64,64,96/2/bicubic   # what bicubic sampling costs
    python $R/editing_sizes.py 64,64,96/2/bicubic 64,64,96/2/bicubic/skip   # the skip
    python $R/editing_sizes.py 64,64,96/2/bicubic 64,64,96/2/bicubic/convex

Each size is ``channels/layers[/interpolation][/skip][/convex]`` (``32,64,96/1`` is the default:
``block_out_channels``, ``layers_per_block``, ``warp_interpolation`` and ``source_skip`` of
``animo_hf.EditingNetwork``, bilinear and no skip unless named; ``convex``: the warping network's
``convex_upsampling``). The animate step is the one
``benchmarks/animate_fps.py`` times (source features cached, batch 1, inference mode); sizes run
interleaved round by round and the best round is reported next to the median. Random weights:
speed does not depend on the values. Quality per size comes from ``animeceleb-eval`` (see
research/animo-cpu/notebook.md), not from here. The ``skip`` and ``convex`` switches are research
flags: run them at the commit the notebook ran at (``git checkout 16c4815``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

# The product's benchmark helpers (benchmarks/animate_fps.py, benchmarks/machine.py): research
# code may use the product, never the other way round.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from animate_fps import animate_step, frames_per_second  # noqa: E402
from machine import describe_machine  # noqa: E402

from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from animo_hf.models.layers import WARP_INTERPOLATIONS

DEFAULT_SIZES = ("32,64,96/1", "48,64,96/1", "64,64,96/1", "32,64,96/2", "64,64,96/2")


SWITCHES = ("skip", "convex")


def parse_size(text: str) -> tuple[dict, dict]:
    """``"64,64,96/2[/bicubic][/skip][/convex]"`` -> EditingNetwork and WarpingNetwork
    arguments; ``SystemExit`` naming a malformed size."""
    channels, _, rest = text.partition("/")
    layers, *options = rest.split("/")
    interpolations = [o for o in options if o not in SWITCHES]
    try:
        size = {
            "block_out_channels": tuple(int(c) for c in channels.split(",")),
            "layers_per_block": int(layers or 1),
            "warp_interpolation": interpolations[0] if interpolations else "bilinear",
        }
    except ValueError:
        raise SystemExit(f"size {text!r}: expected channels/layers, e.g. 64,64,96/2") from None
    if min(size["block_out_channels"]) < 1 or size["layers_per_block"] < 1:
        raise SystemExit(f"size {text!r}: channels and layers must be positive")
    if len(interpolations) > 1 or size["warp_interpolation"] not in WARP_INTERPOLATIONS:
        raise SystemExit(
            f"size {text!r}: options are one interpolation of {WARP_INTERPOLATIONS} and {SWITCHES}"
        )
    # research flags the product no longer has: passed only when named (run them at 16c4815)
    if "skip" in options:
        size["source_skip"] = True
    return size, {"convex_upsampling": True} if "convex" in options else {}


def pipeline_of(size: tuple[dict, dict]) -> AniMoPipeline:
    editing, warping = size
    torch.manual_seed(0)
    pipe = AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(**warping), EditingNetwork(**editing)
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", default=DEFAULT_SIZES, help="channels/layers")
    parser.add_argument("--size", type=int, default=256, help="image size")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per sample")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved samples per size")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    machine = describe_machine(torch_threads=True)
    print(f"machine: {machine}\n")
    pipes = {name: pipeline_of(parse_size(name)) for name in args.sizes}
    steps = {
        name: animate_step(pipe, args.size, 1, torch.inference_mode) for name, pipe in pipes.items()
    }
    samples = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            samples[name].append(frames_per_second(step, 1, args.seconds))
    base = max(samples[args.sizes[0]])
    print(
        f"animate at {args.size}², batch 1; best / median of {args.rounds} interleaved rounds\n\n"
        "| editing size (channels / layers [/ sampling]) | editing params (M) | all params (M) | "
        f"best FPS | median FPS | vs {args.sizes[0]} |\n|---|---|---|---|---|---|"
    )
    rows = []
    for name, fps in samples.items():
        pipe = pipes[name]
        editing = sum(p.numel() for p in pipe.editing_network.parameters()) / 1e6
        modules = [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]
        total = sum(p.numel() for m in modules for p in m.parameters()) / 1e6
        best, median = max(fps), statistics.median(fps)
        rows.append(
            {
                "size": name,
                "editing_params_m": editing,
                "params_m": total,
                "best_fps": best,
                "median_fps": median,
                "samples": fps,
            }
        )
        print(
            f"| {name} | {editing:.2f} | {total:.2f} | {best:.1f} | {median:.1f} | "
            f"{best / base:.2f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine, "size": args.size, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
