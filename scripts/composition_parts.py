"""Where AniMo's output gets its detail: the parts its mask composes, scored apart.

    python scripts/composition_parts.py --weights weights/animo --max-models 2

Per group (frontal, rotated), the means over cases of SSIM and sharpness (the evaluation's metric
modules, whole image) of: the output; the warped source (what a mask of 1 gives); the generated
image (a mask of 0); the better of the two per pixel (an oracle mask: what any mask could reach
with these two images); and the mask's mean. Same cases and scoring as ``animeceleb-eval``.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

import torch

from training.evaluate import Scorer, held_out_cases, load_animo

PARTS = ("output", "warped source", "generated image", "oracle mask")


def composition_parts(pipe, source: torch.Tensor, poses: torch.Tensor, targets: torch.Tensor):
    """The images of ``PARTS`` (N, 3, H, W) for one source driven by ``poses``, and the mask."""
    features = pipe.encode_source(source)
    z, flow = pipe.pose_code_and_flow(features, poses)
    editing = pipe.editing_network
    warped = editing.warp_source(source.expand(len(poses), -1, -1, -1), flow)
    generated, mask = editing.decode(features.editing, flow, z, warped)
    if mask is None:
        raise SystemExit("--weights: this editing network has no mask (composite=False)")
    closer = (warped - targets).abs().mean(1, keepdim=True) <= (generated - targets).abs().mean(
        1, keepdim=True
    )
    images = (
        editing.compose(generated, mask, warped),
        warped,
        generated,
        torch.where(closer, warped, generated),
    )
    return dict(zip(PARTS, images, strict=True)), mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="an AniMo pipeline folder")
    parser.add_argument("--dataset", default="outputs/animeceleb-500/hub")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--max-models", type=int, default=2, help="held-out characters")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = load_animo(args.weights)
    scorer = Scorer()
    scores = defaultdict(list)
    with torch.no_grad():
        for case in held_out_cases(args.dataset, args.resolution, None, args.max_models):
            for group in sorted(set(case.groups)):
                keep = torch.tensor([g == group for g in case.groups])
                targets = case.targets[keep]
                images, mask = composition_parts(pipe, case.source, case.poses[keep], targets)
                for part, image in images.items():
                    scores[(group, part)].append(scorer.images(image, targets))
                scores[(group, "mask")].append({"mean": float(mask.mean())})
    print("| group | part | SSIM | sharpness |\n|---|---|---|---|")
    for (group, part), records in scores.items():
        if part == "mask":
            print(f"| {group} | mask mean | {statistics.fmean(r['mean'] for r in records):.3f} | |")
            continue
        ssim = statistics.fmean(r["ssim"] for r in records)
        sharpness = statistics.fmean(r["sharpness"] for r in records)
        print(f"| {group} | {part} | {ssim:.4f} | {sharpness:.3f} |")


if __name__ == "__main__":
    main()
