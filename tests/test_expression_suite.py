"""The expression suite (``training.expression_suite``): Blender renders each kind of expression
of a character frontal and rotated, and a method's output is scored on only the pixels the
expression changes; an exact method scores 0, copying the source 1 on the frontal group."""

import numpy as np
import pytest
import torch

from dataset_builder.sources import procedural_sources
from training.evaluate import Scorer
from training.expression_suite import (
    EXPRESSION_KINDS,
    GROUPS,
    render_suite,
    score_character,
)

RESOLUTION = 64


@pytest.fixture(scope="module")
def rendered():
    (source,) = procedural_sources(1, 5)
    return render_suite(source, "cel", RESOLUTION)


@pytest.fixture(scope="module")
def metrics():
    scorer = Scorer()

    def expression_l1(predictions, references, sources):
        found = scorer.metrics["expression_l1"].compute(
            predictions=predictions, references=references, sources=sources
        )
        return found["expression_l1"]

    def ssim(predictions, references):
        found = scorer.metrics["ssim"].compute(predictions=predictions, references=references)
        return found["ssim"]

    return expression_l1, ssim


def test_the_suite_renders_each_kind_frontal_and_rotated(rendered):
    poses, truth = rendered
    kinds = {name.split("/")[0] for name in truth} - {"neutral"}
    assert kinds == set(EXPRESSION_KINDS), "a procedural character shows every kind"
    for kind in kinds:
        frontal, rotated = poses[f"{kind}/frontal"], poses[f"{kind}/rotated"]
        assert torch.equal(frontal[:17], rotated[:17]) and frontal[:17].max() == 1
        assert frontal[17:].abs().sum() == 0 and rotated[17] == 15
        # the expression changes the render
        assert (truth[f"{kind}/frontal"] - truth["neutral/frontal"]).abs().max() > 0.2


def test_an_exact_method_scores_0_and_copying_the_source_1(rendered, metrics):
    poses, truth = rendered
    by_pose = {tuple(poses[name].tolist()): truth[name] for name in truth}

    def exact(source, driven):
        return torch.stack([by_pose[tuple(p.tolist())] for p in driven])

    def copy_source(source, driven):
        return source.expand(len(driven), -1, -1, -1)

    scores = score_character({"exact": exact, "copy": copy_source}, *metrics, poses, truth)
    for kind in EXPRESSION_KINDS:
        for group in GROUPS:
            assert scores["exact"][f"{kind}/{group}"] == 0
            assert scores["exact"][f"{kind}/{group} ssim"] == pytest.approx(1.0)
        assert scores["copy"][f"{kind}/frontal"] == pytest.approx(1.0)
        # the source does not turn its head: worse than the neutral rotated view
        assert scores["copy"][f"{kind}/rotated"] > 1
    assert np.isfinite([v for s in scores.values() for v in s.values()]).all()
