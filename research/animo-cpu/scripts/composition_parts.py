"""Where AniMo's output gets its detail: the parts its mask composes, scored apart.

    python research/animo-cpu/scripts/composition_parts.py --weights weights/animo \
        --lora weights/animo-lora
    python research/animo-cpu/scripts/composition_parts.py --weights weights/animo \
        --dataset outputs/animeceleb-val/hub --split train --max-models 8 --figure mouths.png

Per group (frontal, rotated), the means over cases of SSIM and sharpness (the evaluation's metric
modules, whole image) of: the output; the warped source (what a mask of 1 gives); the generated
image (a mask of 0); the better of the two per pixel (an oracle mask: what any mask could reach
with these two images); the true render itself moved by a random sub-pixel shift through the same
sampler (what a warp with a perfect but fractional flow keeps of the target's detail: the ceiling
of any output made by resampling the source); and the mask's mean. Same cases and scoring as
``animeceleb-eval``.

With ``--figure``, also a PNG of the parts for the frontal targets whose mouth opens most (a row
each: source, target, output, generated image, mask (white: the warped source), warped source;
under it the lower face of each, enlarged 2x): where an open mouth is lost.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

import numpy as np
import PIL.Image
import torch

from animeceleb.pose import MOUTH_VOWELS, POSE_INDEX
from training.data import image_array
from training.evaluate import Scorer, held_out_cases, load_animo

PARTS = ("output", "warped source", "generated image", "oracle mask", "target resampled")


def subpixel_shift_flow(
    n: int, height: int, width: int, generator: torch.Generator
) -> torch.Tensor:
    """(n, 2, 1, 1) flows that shift each image by a uniform random fraction of a pixel in x and y
    (normalised coordinates: a pixel is 2 / size)."""
    pixels = torch.rand(n, 2, 1, 1, generator=generator)
    return pixels * torch.tensor([2 / width, 2 / height]).view(1, 2, 1, 1)


def composition_parts(
    pipe,
    source: torch.Tensor,
    poses: torch.Tensor,
    targets: torch.Tensor,
    generator: torch.Generator,
):
    """The images of ``PARTS`` (N, 3, H, W) for one source driven by ``poses``, and the mask;
    ``generator`` draws the sub-pixel shifts of ``target resampled``."""
    n, _, h, w = targets.shape
    features = pipe.encode_source(source)
    z, flow = pipe.pose_code_and_flow(features, poses)
    editing = pipe.editing_network
    warped = editing.warp_source(source.expand(len(poses), -1, -1, -1), flow)
    generated, mask = editing.decode(features.editing, flow, z)
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
        editing.warp_source(targets, subpixel_shift_flow(n, h, w, generator)),
    )
    return dict(zip(PARTS, images, strict=True)), mask


def lower_face(image: np.ndarray) -> np.ndarray:
    """The mouth's area of a framed head image (H, W, 3): rows 0.55-0.85 and columns 0.35-0.65 of
    the sides, enlarged 2x (nearest)."""
    h, w = image.shape[:2]
    crop = image[int(0.55 * h) : int(0.85 * h), int(0.35 * w) : int(0.65 * w)]
    return crop.repeat(2, axis=0).repeat(2, axis=1)


def mouth_figure(pipe, cases, rows: int) -> np.ndarray:
    """The figure of ``--figure``: the ``rows`` frontal targets of ``cases`` with the largest
    mouth value, their parts side by side and their lower faces under them."""
    mouth = [POSE_INDEX[f"mouth_{vowel}"] for vowel in MOUTH_VOWELS]
    frontal = [
        (float(case.poses[i, mouth].max()), n, i)
        for n, case in enumerate(cases)
        for i, group in enumerate(case.groups)
        if group == "frontal"
    ]
    tiles = []
    for _, n, i in sorted(frontal, reverse=True)[:rows]:
        case = cases[n]
        target = case.targets[i : i + 1]
        images, mask = composition_parts(
            pipe, case.source, case.poses[i : i + 1], target, torch.Generator().manual_seed(0)
        )
        parts = [case.source[0], target[0], images["output"][0], images["generated image"][0]]
        parts += [mask[0] * 2 - 1, images["warped source"][0]]
        full = [image_array(part.expand(3, -1, -1)) for part in parts]
        zoomed = np.concatenate([lower_face(image) for image in full], axis=1)
        width = sum(image.shape[1] for image in full)
        zoomed = np.pad(zoomed, ((0, 0), (0, width - zoomed.shape[1]), (0, 0)), constant_values=255)
        tiles += [np.concatenate(full, axis=1), zoomed]
    if not tiles:
        raise SystemExit("--figure: the cases have no frontal target")
    return np.concatenate(tiles, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="an AniMo pipeline folder")
    parser.add_argument("--lora", help="a LoRA adapter fused into --weights")
    parser.add_argument("--dataset", default="outputs/animeceleb-500/hub")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--max-models", type=int, default=2, help="held-out characters")
    parser.add_argument("--split", default="test", help="held-out split (train: validation)")
    parser.add_argument("--figure", help="also write the parts of the most open mouths to this PNG")
    parser.add_argument("--figure-rows", type=int, default=4, help="targets in the figure")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = load_animo(args.weights, lora=args.lora)
    generator = torch.Generator().manual_seed(0)
    scorer = Scorer()
    scores = defaultdict(list)
    cases = held_out_cases(args.dataset, args.resolution, None, args.max_models, args.split)
    with torch.no_grad():
        if args.figure:
            PIL.Image.fromarray(mouth_figure(pipe, cases, args.figure_rows)).save(args.figure)
        for case in cases:
            for group in sorted(set(case.groups)):
                keep = torch.tensor([g == group for g in case.groups])
                targets = case.targets[keep]
                images, mask = composition_parts(
                    pipe, case.source, case.poses[keep], targets, generator
                )
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
