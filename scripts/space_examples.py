"""The Space's example characters: the neutral render of held-out procedural characters (test-split
identities, never trained on) and of the shared VRM character, with their licence and attribution.

    python scripts/space_examples.py --out spaces/animo/examples

Writes one RGBA PNG per character and ``examples.json`` (file, label, licence, attribution) that
the Space reads. Blender renders them (the ``render`` extra); the Space itself needs no Blender.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from animeceleb.pose import POSE_DIM
from animeceleb.sampling import identity_split
from dataset_builder.files import write_atomic
from dataset_builder.sources import ModelSource, file_sources, procedural_sources
from dataset_builder.worker import run_in_blender

# (procedural seed, style): test-split identities, in the styles the README figure does not show
PROCEDURAL = ((13, "cel"), (23, "original"), (9, "soft"), (37, "cel_outline"))
VRM = Path(__file__).resolve().parents[2] / "shared" / "models" / "Godette_vrm_v4.vrm"


def neutral_render(source: ModelSource, style: str, resolution: int) -> bytes:
    """The PNG bytes of ``source``'s neutral pose in ``style``."""
    (png,) = run_in_blender("render_poses", source, [[0.0] * POSE_DIM], style, resolution)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("spaces/animo/examples"))
    parser.add_argument("--vrm", type=Path, default=VRM, help="the shared VRM character")
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()

    characters = []
    for seed, style in PROCEDURAL:
        (source,) = procedural_sources(1, seed)
        if identity_split(source.model_id) != "test":
            raise SystemExit(f"{source.model_id} is a training identity; pick a test-split seed")
        characters.append((source, style, f"procedural character {seed} ({style}, held out)"))
    if args.vrm.is_file():
        (vrm,) = file_sources(
            [args.vrm],
            license="cc-by-3.0",
            attribution='"Low-Poly Godette" by SirRichard94, VRM adaptation by Lyuma '
            "(V-Sekai/godot-vrm, vrm_samples/)",
        )
        characters.append((vrm, "original", "Godette, a real VRM character (never trained on)"))
    else:
        print(f"{args.vrm} not found: the VRM example is left out")

    args.out.mkdir(parents=True, exist_ok=True)
    examples = []
    for source, style, label in characters:
        name = f"{source.model_id}-{style}.png"
        write_atomic(args.out / name, neutral_render(source, style, args.resolution))
        examples.append(
            {
                "file": name,
                "label": label,
                "license": source.license,
                "attribution": source.attribution,
            }
        )
        print(f"{name}: {label}")
    text = json.dumps(examples, indent=2, ensure_ascii=False) + "\n"
    write_atomic(args.out / "examples.json", text)


if __name__ == "__main__":
    main()
