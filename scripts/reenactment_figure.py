"""The README's reenactment figure: held-out procedural characters and the shared VRM character
(never trained on) driven to several poses. Rows per character: Blender's true render of the pose,
AniMo's output and (with ``--baseline``) the PIRenderer-style baseline's; the first column is the
neutral source every output starts from.

    python scripts/reenactment_figure.py --weights outputs/train/animo-100-128/weights \\
        --baseline outputs/train/pirenderer-100-128/weights --out docs/reenactment.png
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import torch

from animeceleb.pose import pose_from_morphs
from animo_hf import PIRendererGenerator
from animo_hf.image_utils import flatten
from animo_hf.models.layers import warp
from dataset_builder.sources import ModelSource, file_sources, procedural_sources
from dataset_builder.worker import run_in_blender
from training.data import network_input
from training.evaluate import load_animo

# (target-morph values, (yaw, pitch, roll)) of each column
DRIVING = {
    "source (neutral)": ({}, (0, 0, 0)),
    "eyes closed": ({"eye_close": 1.0}, (0, 0, 0)),
    "mouth open": ({"mouth_a": 1.0}, (0, 0, 0)),
    "yaw +20": ({}, (20, 0, 0)),
    "yaw -20": ({}, (-20, 0, 0)),
    "pitch +15": ({}, (0, 15, 0)),
    "roll +15": ({}, (0, 0, 15)),
}
HELD_OUT = ((13, "cel"), (23, "original"))  # test-split identities of the procedural builds
BACKGROUND = (226, 230, 236)
LABEL = 16


def pose_vectors() -> torch.Tensor:
    poses = [pose_from_morphs(morphs, angles) for morphs, angles in DRIVING.values()]
    return torch.from_numpy(np.stack(poses))


def baseline_frames(generator: PIRendererGenerator, source: PIL.Image.Image, poses, size: int):
    """The baseline's frames, RGBA: its input is composited over white, as in training, and the
    source's alpha is warped by its flow, as the AniMo pipeline does."""
    rgba = np.asarray(source.convert("RGBA").resize((size, size)), dtype=np.float32) / 255
    image, alpha = network_input(torch.from_numpy(rgba).permute(2, 0, 1)[None])
    with torch.no_grad():
        out = generator.animate(generator.encode_source(image), poses)
    alpha = warp(alpha.expand(len(poses), -1, -1, -1), out.flow)
    frames = torch.cat([(out.image.clamp(-1, 1) + 1) / 2, alpha.clamp(0, 1)], dim=1)
    frames = (frames * 255).round().byte().permute(0, 2, 3, 1).numpy()
    return [PIL.Image.fromarray(frame, "RGBA") for frame in frames]


def character_rows(source: ModelSource, style: str, args, pipe, baseline) -> list[tuple]:
    poses = pose_vectors()
    renders = run_in_blender("render_poses", source, poses.tolist(), style, args.resolution)
    truth = [PIL.Image.open(io.BytesIO(png)) for png in renders]
    neutral = truth[0]
    animo = pipe(neutral, pose=poses, height=args.resolution, width=args.resolution).frames
    rows = [("Blender", truth), ("AniMo", animo)]
    if baseline is not None:
        rows.append(("PIRenderer", baseline_frames(baseline, neutral, poses, args.resolution)))
    return rows


def lay_out(characters: list[tuple[str, list[tuple]]], size: int) -> PIL.Image.Image:
    columns = list(DRIVING)
    rows = [(name, label, frames) for name, table in characters for label, frames in table]
    left = 150
    sheet = PIL.Image.new(
        "RGB", (left + size * len(columns), LABEL + size * len(rows)), (250, 250, 250)
    )
    draw = PIL.ImageDraw.Draw(sheet)
    for c, title in enumerate(columns):
        draw.text((left + c * size + 4, 2), title, fill=(20, 20, 30))
    for r, (name, label, frames) in enumerate(rows):
        y = LABEL + r * size
        draw.text((4, y + size // 2 - 12), f"{name}\n{label}", fill=(20, 20, 30))
        for c, frame in enumerate(frames):
            sheet.paste(flatten(frame.resize((size, size)), BACKGROUND), (left + c * size, y))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="an AniMoPipeline folder")
    parser.add_argument("--lora", help="a LoRA adapter folder fused into --weights")
    parser.add_argument("--baseline", help="a PIRendererGenerator folder")
    parser.add_argument(
        "--vrm", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models"
        / "Godette_vrm_v4.vrm", help="a VRM character never seen in training",
    )  # fmt: skip
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("docs/reenactment.png"))
    args = parser.parse_args()

    pipe = load_animo(args.weights, lora=args.lora)
    baseline = PIRendererGenerator.from_pretrained(args.baseline) if args.baseline else None
    characters = []
    for seed, style in HELD_OUT:
        source = procedural_sources(1, seed)[0]
        rows = character_rows(source, style, args, pipe, baseline)
        characters.append((f"procedural {seed}\n({style})", rows))
    if args.vrm.is_file():
        (vrm,) = file_sources([args.vrm])
        characters.append(
            ("VRM Godette\n(original)", character_rows(vrm, "original", args, pipe, baseline))
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lay_out(characters, args.resolution).save(args.out)
    print(f"figure written to {args.out}")


if __name__ == "__main__":
    main()
