"""Where in the frame AniMo's error is: the L1 to the true render per band of rows.

    python research/animo-cpu/scripts/error_by_rows.py --weights weights/animo \
        --lora weights/animo-lora --dataset outputs/godette/hub --split train --bands 8

Per group (frontal, rotated), the mean absolute error (images in [0, 1], over the RGB channels and
the targets) of AniMo's output and of the source copied unchanged, in ``--bands`` equal bands of
rows from the top of the frame down. For a character whose frame holds more than a head (a VRM
model's arms and torso), it shows whether the output loses to copying the source on the head or
on what should stay still. Same cases as ``animeceleb-eval``.
"""

from __future__ import annotations

import argparse

import torch

from training.evaluate import animo_methods, batched, copy_source, held_out_cases, load_animo


def rows_per_band(height: int, bands: int) -> int:
    """The rows of each of ``bands`` equal bands of an image ``height`` rows high (one clear
    error unless ``bands`` divides ``height``)."""
    if bands < 1 or height % bands:
        raise SystemExit(f"--bands: {bands}; expected a divisor of the image height {height}")
    return height // bands


def band_errors(outputs: torch.Tensor, targets: torch.Tensor, bands: int) -> list[float]:
    """The mean absolute error of ``outputs`` against ``targets`` (N, 3, H, W) in [-1, 1], in
    ``bands`` equal bands of rows (H divisible by ``bands``), top first, in [0, 1] units."""
    rows = rows_per_band(outputs.shape[-2], bands)
    error = ((outputs - targets).abs() / 2).mean(dim=(0, 1))  # (H, W)
    return [float(band.mean()) for band in error.split(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="an AniMo pipeline folder")
    parser.add_argument("--lora", help="a LoRA adapter fused into --weights")
    parser.add_argument("--dataset", default="outputs/animeceleb-500/hub")
    parser.add_argument("--split", default="test", help="held-out split (train: another build)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--max-models", type=int, help="held-out characters")
    parser.add_argument("--bands", type=int, default=8, help="bands of rows, top first")
    args = parser.parse_args()
    rows = rows_per_band(args.resolution, args.bands)  # before any work: a bad --bands is one line

    pipe = load_animo(args.weights, lora=args.lora)
    animo = animo_methods(pipe)["AniMo"]
    cases = held_out_cases(args.dataset, args.resolution, None, args.max_models, args.split)
    outputs: dict[tuple[str, str], list[torch.Tensor]] = {}
    targets: dict[str, list[torch.Tensor]] = {}
    for case in cases:
        images = {"AniMo": batched(animo, case.source, case.poses)}
        images["copy-source"] = copy_source(case.source, case.poses)
        for group in sorted(set(case.groups)):
            keep = torch.tensor([g == group for g in case.groups])
            targets.setdefault(group, []).append(case.targets[keep])
            for name, image in images.items():
                outputs.setdefault((group, name), []).append(image[keep])
    header = [f"rows {i * rows}-{(i + 1) * rows - 1}" for i in range(args.bands)]
    print(f"{len(cases)} cases; L1 to the true render per band of rows (top first)\n")
    print("| group | method | whole image | " + " | ".join(header) + " |")
    print("|---|---|---|" + "---|" * args.bands)
    for (group, name), images in outputs.items():
        output, target = torch.cat(images), torch.cat(targets[group])
        whole = float(((output - target).abs() / 2).mean())
        bands = band_errors(output, target, args.bands)
        print(f"| {group} | {name} | {whole:.4f} | " + " | ".join(f"{b:.4f}" for b in bands) + " |")


if __name__ == "__main__":
    main()
