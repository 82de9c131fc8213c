"""The expression suite: how well a method draws each kind of expression, frontal and with the
head turned, scored against Blender's true render on only the pixels the expression changes.

For each character (and style) Blender renders the neutral face, each expression kind at full
strength (``EXPRESSION_KINDS``) frontal and rotated (yaw ``ROTATED_YAW``), and the neutral face
rotated. Each method animates the neutral frontal render to every pose. A kind's score in a group
is the **changed-pixel ratio**: the L1 between the method's output and the truth over the pixels
where the truth differs from the same view without the expression, divided by that view's own L1
there (``expression_l1`` of the output over ``expression_l1`` of the view without the
expression): 0 is exact, 1 no better than not animating the expression. The whole-image SSIM
against the truth is kept beside it. Needs Blender (the ``render`` extra).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from animeceleb.pose import ANGLE_SLICE, pose_from_morphs
from dataset_builder.sources import ModelSource

from .data import decode_rgba, network_input

Method = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (source, poses) -> images
ROTATED_YAW = 15.0
GROUPS = ("frontal", "rotated")
# kind -> the target morphs set to 1 (``animeceleb.pose`` names)
EXPRESSION_KINDS: dict[str, tuple[str, ...]] = {
    "eyes closed": ("eye_close",),
    "wink": ("eye_close_L",),
    "eye_happy": ("eye_happy",),
    "mouth a": ("mouth_a",),
    "mouth i": ("mouth_i",),
    "mouth u": ("mouth_u",),
    "mouth e": ("mouth_e",),
    "mouth o": ("mouth_o",),
    "brow troubled": ("brow_troubled",),
    "brow angry": ("brow_angry",),
    "brow raised": ("brow_raised",),
}


def suite_poses() -> tuple[list[str], torch.Tensor]:
    """The rows of a character's renders and their (2 + 2K, 20) poses: neutral frontal, neutral
    rotated, then each kind frontal and rotated."""
    rotated = (ROTATED_YAW, 0.0, 0.0)
    names = ["neutral/frontal", "neutral/rotated"]
    poses = [pose_from_morphs({}), pose_from_morphs({}, angles=rotated)]
    for kind, morphs in EXPRESSION_KINDS.items():
        values = dict.fromkeys(morphs, 1.0)
        names += [f"{kind}/frontal", f"{kind}/rotated"]
        poses += [pose_from_morphs(values), pose_from_morphs(values, angles=rotated)]
    return names, torch.from_numpy(np.stack(poses)).float()


def render_suite(
    source: ModelSource, style: str, resolution: int, blender_log: str | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Blender's renders of :func:`suite_poses` for one character: name -> pose (20,) as the
    character can show it, and name -> image (3, H, W) in [-1, 1]. A kind the character has no
    morph for shows the neutral face and is left out."""
    from dataset_builder.worker import run_in_blender

    names, poses = suite_poses()
    shown, pngs = run_in_blender(
        "render_showable_poses", source, poses.tolist(), style, resolution, blender_log=blender_log
    )
    images, _ = network_input(torch.stack([decode_rgba(png, resolution) for png in pngs]))
    shown_poses = torch.tensor(shown, dtype=torch.float32)
    kept = {
        name: i
        for i, name in enumerate(names)
        if name.startswith("neutral/") or shown_poses[i, : ANGLE_SLICE.start].any()
    }
    return (
        {name: shown_poses[i] for name, i in kept.items()},
        {name: images[i] for name, i in kept.items()},
    )


def score_character(
    methods: dict[str, Method],
    expression_l1,
    ssim,
    poses: dict[str, torch.Tensor],
    truth: dict[str, torch.Tensor],
) -> dict[str, dict[str, float]]:
    """method -> ``<kind>/<group>`` -> changed-pixel ratio, and ``<kind>/<group> ssim``, for one
    character's renders. ``expression_l1`` and ``ssim`` score (predictions, references[, sources])
    as numpy (N, H, W, 3) images in [0, 1]."""
    names = [name for name in truth if not name.startswith("neutral/")]
    if not names:
        return {}
    source = truth["neutral/frontal"][None]
    driven = torch.stack([poses[name] for name in names])
    views = [truth[f"neutral/{name.split('/')[1]}"] for name in names]
    references, plain = _array(torch.stack([truth[n] for n in names])), _array(torch.stack(views))
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for method, run in methods.items():
        with torch.no_grad():
            outputs = _array(run(source, driven))
        for i, name in enumerate(names):
            one = slice(i, i + 1)
            drawn = expression_l1(outputs[one], references[one], plain[one])
            undrawn = expression_l1(plain[one], references[one], plain[one])
            if drawn is not None and undrawn:
                scores[method][name] = drawn / undrawn
                scores[method][f"{name} ssim"] = ssim(outputs[one], references[one])
    return scores


def _array(images: torch.Tensor) -> np.ndarray:
    return ((images.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()


def expression_suite(
    characters: Sequence[tuple[ModelSource, str]],
    methods: dict[str, Method],
    expression_l1,
    ssim,
    resolution: int,
    blender_log: str | None = None,
) -> dict[str, dict[str, float]]:
    """The suite over ``characters`` ((source, style) each): method -> ``<kind>/<group>`` -> the
    mean changed-pixel ratio over the characters that show the kind, with ``... ssim`` and
    each kind's mean over both groups (``<kind>``)."""
    records: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for source, style in tqdm(characters, desc="expression suite", unit="character"):
        poses, truth = render_suite(source, style, resolution, blender_log)
        for method, scores in score_character(methods, expression_l1, ssim, poses, truth).items():
            for name, value in scores.items():
                records[method][name].append(value)
    names, _ = suite_poses()
    order = {name: i for i, name in enumerate(names)}
    results = {}
    for method, named in records.items():
        ordered = sorted(named, key=lambda name: order[name.removesuffix(" ssim")])
        means = {name: float(np.mean(named[name])) for name in ordered}
        for kind in EXPRESSION_KINDS:
            both = [means[f"{kind}/{g}"] for g in GROUPS if f"{kind}/{g}" in means]
            if both:
                means[kind] = float(np.mean(both))
        results[method] = means
    return results
