"""The evaluate metric modules in training/metrics/ against values worked out by hand."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from animeceleb.pose import EXPRESSION_DIM, POSE_DIM, POSE_NAMES
from animeceleb.regions import changed_region, crop_box
from training.metrics import METRIC_NAMES, METRICS_DIR, load_metric

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LUMA = np.array([0.299, 0.587, 0.114])
C1, C2 = 0.01**2, 0.03**2  # SSIM constants for data range 1


def texture(seed: int, size: int = 48) -> np.ndarray:
    """A float32 (size, size, 3) image in [0.2, 0.8]: smooth gradients plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.5 + 0.2 * np.sin(6 * x + c) * np.cos(4 * y) for c in range(3)], axis=-1)
    return np.clip(base + rng.uniform(-0.1, 0.1, base.shape), 0.2, 0.8).astype(np.float32)


def box_blur(image: np.ndarray) -> np.ndarray:
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = image.shape[:2]
    return sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def laplacian_variance_by_hand(image: np.ndarray) -> float:
    """Second differences with np.diff: d²/dy² + d²/dx² on the valid interior of the luma."""
    grey = image.astype(np.float64) @ LUMA
    laplacian = np.diff(grey, 2, axis=0)[:, 1:-1] + np.diff(grey, 2, axis=1)[1:-1, :]
    return float(laplacian.var())


def one_line_value_error(function, *args, match: str, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as info:
        function(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    return message


# -- loading -----------------------------------------------------------------------------------


def test_every_metric_loads_from_its_repository_script():
    import evaluate

    for name in METRIC_NAMES:
        script = METRICS_DIR / name / f"{name}.py"
        assert script.is_file()
        metric = load_metric(name)
        assert isinstance(metric, evaluate.EvaluationModule)
        assert metric.name == name
        # evaluate imported a copy of exactly this script (same bytes)
        module = sys.modules[type(metric).__module__]
        assert Path(module.__file__).read_bytes() == script.read_bytes()


def test_unknown_metric_name_is_one_clear_value_error():
    message = one_line_value_error(load_metric, "fid", match="unknown metric 'fid'")
    assert all(name in message for name in METRIC_NAMES)


def test_every_metric_has_a_card_with_front_matter():
    for name in METRIC_NAMES:
        text = (METRICS_DIR / name / "README.md").read_text(encoding="utf-8")
        assert text.startswith("---\n")
        meta = yaml.safe_load(text.split("---\n")[1])
        assert meta["title"] and meta["description"]
        assert {"evaluate", "metric"} <= set(meta["tags"])
        assert f'load_metric("{name}")' in text


OFFLINE_CHECK = """
import json, socket, sys
def no_network(*args, **kwargs):
    raise RuntimeError("network access attempted")
socket.socket.connect = socket.socket.connect_ex = no_network
socket.create_connection = socket.getaddrinfo = no_network
import numpy as np
from training.metrics import METRIC_NAMES, load_metric
image = np.full((16, 16, 3), 0.5, dtype=np.float32)
pose = np.zeros((1, 20))
results = {}
for name in METRIC_NAMES:
    metric = load_metric(name)
    if name in ("head_angle_error", "expression_error"):
        results[name] = metric.compute(predictions=pose, references=pose)[name]
    elif name == "expression_l1":
        results[name] = metric.compute(predictions=[image], references=[image], sources=[image])
    elif name != "sharpness":
        results[name] = metric.compute(predictions=[image], references=[image])[name]
print(json.dumps(results))
"""


def run_offline(tmp_path, code: str, *args: str):
    """Run ``code`` in a fresh Python process offline, with a Hugging Face home of its own in
    ``tmp_path``; the JSON its last output line prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_CACHE"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_loading_in_a_fresh_offline_process_reaches_no_network(tmp_path):
    scores = run_offline(tmp_path, OFFLINE_CHECK)
    assert scores == {
        "ssim": pytest.approx(1.0),
        "psnr": 100.0,
        "l1": 0.0,
        "head_angle_error": 0.0,
        "expression_error": 0.0,
        "expression_l1": {"expression_l1": None, "expression_pairs": 0},  # nothing changed
    }
    # evaluate copied each script into $HF_HOME/modules/evaluate_modules/metrics/<name>/<hash>/
    for name in METRIC_NAMES:
        copies = list(
            (tmp_path / "hf" / "modules" / "evaluate_modules" / "metrics").glob(
                f"{name}/*/{name}.py"
            )
        )
        assert len(copies) == 1, name
        assert copies[0].read_bytes() == (METRICS_DIR / name / f"{name}.py").read_bytes()


STANDALONE_CHECK = """
import importlib.abc, json, sys
class NoTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "training":
            raise ImportError(f"a metric imported {name}")
sys.meta_path.insert(0, NoTraining())
import evaluate
import numpy as np
image, pose = np.full((16, 16, 3), 0.5, dtype=np.float32), np.zeros((1, 20))
scored = []
for script in sys.argv[1:]:
    metric = evaluate.load(script, keep_in_memory=True)
    if metric.name in ("head_angle_error", "expression_error"):
        metric.compute(predictions=pose, references=pose)
    elif metric.name == "expression_l1":
        metric.compute(predictions=[image], references=[image], sources=[image])
    elif metric.name != "sharpness":  # a flat reference has no detail to compare
        metric.compute(predictions=[image], references=[image])
    scored.append(metric.name)
print(json.dumps(scored))
"""


def test_each_metric_folder_stands_alone_without_the_training_package(tmp_path):
    """A copy of a metric's folder alone (links followed, as an upload of it to the Hub would
    be) loads with ``evaluate.load`` and scores, while importing ``training`` is refused: a
    metric needs only libraries and ``animeceleb``."""
    import shutil

    scripts = []
    for name in METRIC_NAMES:
        folder = tmp_path / "alone" / name
        shutil.copytree(METRICS_DIR / name, folder, symlinks=False)
        assert all(not path.is_symlink() for path in folder.iterdir())
        scripts.append(str(folder / f"{name}.py"))
    scored = set(run_offline(tmp_path, STANDALONE_CHECK, *scripts))
    assert scored == set(METRIC_NAMES)


# -- image metrics -----------------------------------------------------------------------------


def test_identical_images_score_perfectly():
    images = np.stack([texture(1), texture(2)])
    assert load_metric("ssim").compute(predictions=images, references=images)["ssim"] == (
        pytest.approx(1.0, abs=1e-6)
    )
    psnr = load_metric("psnr")
    assert psnr.compute(predictions=images, references=images)["psnr"] == 100.0  # the cap
    assert psnr.compute(predictions=images, references=images, max_db=None)["psnr"] == math.inf
    assert load_metric("l1").compute(predictions=images, references=images)["l1"] == 0.0
    sharpness = load_metric("sharpness").compute(predictions=images, references=images)
    assert sharpness["sharpness"] == pytest.approx(1.0)


def test_constant_offset_gives_l1_and_psnr_by_hand():
    reference = texture(3)
    prediction = reference + np.float32(0.1)  # stays within [0.3, 0.9]
    l1 = load_metric("l1").compute(predictions=[prediction], references=[reference])["l1"]
    assert l1 == pytest.approx(0.1, abs=1e-6)
    psnr = load_metric("psnr").compute(predictions=[prediction], references=[reference])["psnr"]
    assert psnr == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.1²)


def test_psnr_is_the_mean_over_pairs_of_each_pairs_psnr():
    reference = texture(4)
    predictions = [reference + np.float32(0.1), reference + np.float32(0.01)]
    psnr = load_metric("psnr").compute(predictions=predictions, references=[reference] * 2)
    assert psnr["psnr"] == pytest.approx((20.0 + 40.0) / 2, abs=1e-3)


def test_ssim_of_flat_images_is_the_luminance_term_by_hand():
    a, b = 0.4, 0.5
    prediction = np.full((32, 32, 3), a, dtype=np.float32)
    reference = np.full((32, 32, 3), b, dtype=np.float32)
    expected = (2 * a * b + C1) / (a * a + b * b + C1)  # variances 0: the contrast term is 1
    value = load_metric("ssim").compute(predictions=[prediction], references=[reference])["ssim"]
    assert value == pytest.approx(expected, abs=1e-5)


def test_ssim_matches_the_training_loss_and_scikit_image():
    import torch

    from training.animo.losses import ssim_loss

    predictions = np.stack([texture(5), box_blur(texture(6))]).astype(np.float32)
    references = np.stack([texture(7), texture(6)])
    value = load_metric("ssim").compute(predictions=predictions, references=references)["ssim"]

    def to_training(images):  # (N, 3, H, W) in [-1, 1]
        return torch.from_numpy(images).permute(0, 3, 1, 2) * 2 - 1

    loss = ssim_loss(to_training(predictions), to_training(references)).item()
    assert value == pytest.approx(1 - loss, abs=1e-5)

    metrics = pytest.importorskip("skimage.metrics")
    by_skimage = [
        metrics.structural_similarity(
            p.astype(np.float64),
            r.astype(np.float64),
            data_range=1.0,
            channel_axis=2,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for p, r in zip(predictions, references, strict=True)
    ]
    assert value == pytest.approx(np.mean(by_skimage), abs=1e-4)


def test_uint8_images_are_divided_by_255():
    rng = np.random.default_rng(8)
    prediction, reference = rng.integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    l1 = load_metric("l1").compute(predictions=[prediction], references=[reference])["l1"]
    by_hand = np.abs(prediction.astype(np.float64) - reference).mean() / 255
    assert l1 == pytest.approx(by_hand, rel=1e-9)
    as_float = [prediction / np.float32(255)], [reference / np.float32(255)]
    ssim = load_metric("ssim")
    assert ssim.compute(predictions=[prediction], references=[reference])["ssim"] == (
        pytest.approx(ssim.compute(predictions=as_float[0], references=as_float[1])["ssim"])
    )


def test_sharpness_of_a_blurred_image_is_the_laplacian_variance_ratio_by_hand():
    sharp = [texture(9), texture(10)]
    blurred = [box_blur(image) for image in sharp]
    expected = np.mean(
        [
            laplacian_variance_by_hand(b) / laplacian_variance_by_hand(s)
            for b, s in zip(blurred, sharp, strict=True)
        ]
    )
    value = load_metric("sharpness").compute(predictions=blurred, references=sharp)["sharpness"]
    assert value == pytest.approx(expected, rel=1e-6)
    assert value < 0.5


def test_sharpness_against_a_flat_reference_is_one_clear_error():
    flat = np.full((16, 16, 3), 0.5, dtype=np.float32)
    metric = load_metric("sharpness")
    one_line_value_error(
        metric.compute, predictions=[texture(11, 16)], references=[flat], match="no detail"
    )


def test_add_and_add_batch_accumulate_like_one_compute():
    references = [texture(12), texture(13), texture(14)]
    predictions = [box_blur(image) for image in references]
    streamed = load_metric("l1")
    streamed.add(prediction=predictions[0], reference=references[0])
    streamed.add_batch(predictions=predictions[1:], references=references[1:])
    once = load_metric("l1").compute(predictions=predictions, references=references)
    assert streamed.compute() == pytest.approx(once)


# -- crop --------------------------------------------------------------------------------------


def test_crop_box_is_the_central_fraction_of_each_side():
    assert crop_box(64, 64, 0.5) == (slice(16, 48), slice(16, 48))
    assert crop_box(64, 32, 1.0) == (slice(0, 64), slice(0, 32))
    assert crop_box(10, 10, 0.25) == (slice(3, 6), slice(3, 6))  # 2.5 -> 3 px from (10 - 3) // 2


def test_a_difference_outside_the_crop_scores_zero_inside_it():
    reference = texture(15, 64)
    prediction = reference.copy()
    prediction[:16] = prediction[48:] = prediction[:, :16] = prediction[:, 48:] = 0.0  # outside
    pair = {"predictions": [prediction], "references": [reference]}
    l1 = load_metric("l1")
    assert l1.compute(**pair)["l1"] > 0.05
    assert l1.compute(**pair, crop=0.5)["l1"] == 0.0
    assert load_metric("psnr").compute(**pair, crop=0.5)["psnr"] == 100.0
    assert load_metric("ssim").compute(**pair, crop=0.5)["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert load_metric("sharpness").compute(**pair, crop=0.5)["sharpness"] == pytest.approx(1.0)
    # and the crop's own edge rows and columns (16 and 47) are inside it
    for row, col in ((16, 30), (47, 30), (30, 16), (30, 47)):
        edge = reference.copy()
        edge[row, col] = 1.0
        inside = l1.compute(predictions=[edge], references=[reference], crop=0.5)["l1"]
        assert inside == pytest.approx(np.abs(1.0 - reference[row, col]).sum() / (32 * 32 * 3))


# -- pose metrics ------------------------------------------------------------------------------


def poses(*angles: tuple[float, float, float]) -> np.ndarray:
    array = np.zeros((len(angles), POSE_DIM))
    array[:, EXPRESSION_DIM:] = angles
    return array


def test_head_angle_error_is_the_mean_absolute_degree_difference():
    predictions = poses((10, -5, 0), (-20, 20, 15))
    references = poses((7, -5, 2), (-14, 12, 15))
    result = load_metric("head_angle_error").compute(predictions=predictions, references=references)
    assert result == pytest.approx(
        {"head_angle_error": (3 + 0 + 2 + 6 + 8 + 0) / 6, "yaw": 4.5, "pitch": 4.0, "roll": 1.0}
    )


def test_head_angle_error_wraps_around_180_degrees():
    result = load_metric("head_angle_error").compute(
        predictions=poses((179, 0, 0)), references=poses((-179, 0, 0))
    )
    assert result["yaw"] == pytest.approx(2.0)


def test_expression_error_per_dim_is_keyed_by_pose_name():
    predictions = np.zeros((2, POSE_DIM))
    references = np.zeros((2, POSE_DIM))
    references[0, POSE_NAMES.index("eye_close_L")] = 0.5
    references[0, POSE_NAMES.index("mouth_o")] = 0.25
    references[1, POSE_NAMES.index("mouth_o")] = 0.75
    references[1, POSE_DIM - 1] = 10.0  # roll: not an expression, not scored
    result = load_metric("expression_error").compute(predictions=predictions, references=references)
    assert list(result) == ["expression_error", *POSE_NAMES[:EXPRESSION_DIM]]
    assert result["expression_error"] == pytest.approx((0.5 + 0.25 + 0.75) / (2 * EXPRESSION_DIM))
    assert result["eye_close_L"] == pytest.approx(0.25)
    assert result["mouth_o"] == pytest.approx(0.5)
    assert result["mouth_a"] == 0.0


# -- bad inputs --------------------------------------------------------------------------------

IMAGE = np.full((16, 16, 3), 0.5, dtype=np.float32)


@pytest.mark.parametrize(
    ("predictions", "references", "kwargs", "match"),
    [
        ([IMAGE[..., 0]], [IMAGE[..., 0]], {}, r"shape \(H, W, 3\), got \(16, 16\)"),
        ([np.ones((16, 16, 4))], [np.ones((16, 16, 4))], {}, r"got \(16, 16, 4\)"),
        ([IMAGE], [IMAGE[:8]], {}, "pair 0: prediction shape"),
        ([IMAGE, IMAGE], [IMAGE], {}, "2 predictions but 1 references"),
        ([IMAGE + 1], [IMAGE], {}, r"must lie in \[0, 1\]"),
        ([np.ones((16, 16, 3), dtype=np.int64)], [IMAGE], {}, "dtype int64"),
        (IMAGE, IMAGE, {}, r"batch of shape \(N, H, W, 3\)"),
        ([IMAGE], [IMAGE], {"crop": 0}, r"crop: expected a fraction"),
        ([IMAGE], [IMAGE], {"crop": 1.5}, r"crop: expected a fraction"),
        ([IMAGE], None, {}, "given together"),
    ],
)
def test_bad_images_are_one_clear_value_error(predictions, references, kwargs, match):
    metric = load_metric("l1")
    one_line_value_error(
        metric.compute, predictions=predictions, references=references, match=match, **kwargs
    )


def test_ssim_needs_eleven_pixels_after_the_crop():
    metric = load_metric("ssim")
    one_line_value_error(
        metric.compute, predictions=[IMAGE], references=[IMAGE], crop=0.5, match="at least 11"
    )


@pytest.mark.parametrize("name", ["head_angle_error", "expression_error"])
@pytest.mark.parametrize(
    ("predictions", "match"),
    [
        (np.zeros((2, 19)), r"shape \(N, 20\), got \(2, 19\)"),
        ([[0.0] * 20, [0.0] * 19], "ragged or non-numeric"),
        ([["a"] * 20, [0.0] * 20], "ragged or non-numeric"),
        (np.full((2, 20), 1.5), r"expression dims 0-16 must lie in \[0, 1\]"),
        (poses((200, 0, 0), (0, 0, 0)), "degrees within"),
        (np.zeros((3, 20)), "3 predictions but 2 references"),
    ],
)
def test_bad_poses_are_one_clear_value_error(name, predictions, match):
    metric = load_metric(name)
    one_line_value_error(
        metric.compute, predictions=predictions, references=np.zeros((2, 20)), match=match
    )


# -- expression L1 -----------------------------------------------------------------------------


def mouth_pair(value: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A flat 16x16 source and a target with a 2x2 "mouth" of ``value`` opened in it."""
    source = np.full((16, 16, 3), 0.5, dtype=np.float32)
    target = source.copy()
    target[7:9, 7:9] = value
    return source, target


def test_expression_l1_scores_only_where_the_target_changed_the_source():
    metric = load_metric("expression_l1")
    source, target = mouth_pair()
    # the change is 0.5 on 4 pixels, dilated by 5 to a 6x6 region: copying the source misses
    # 4 * 0.5 over 36 pixels; the whole-image L1 would be 4 * 0.5 / 256
    copied = metric.compute(predictions=[source], references=[target], sources=[source])
    assert copied == {"expression_l1": pytest.approx(2 / 36), "expression_pairs": 1}
    drawn = metric.compute(predictions=[target], references=[target], sources=[source])
    assert drawn["expression_l1"] == 0.0
    elsewhere = target.copy()
    elsewhere[0, 0] = 0.0  # an error outside the changed region does not count
    outside = metric.compute(predictions=[elsewhere], references=[target], sources=[source])
    assert outside["expression_l1"] == 0.0
    # a pair whose target did not change its source has no score and does not count
    both = metric.compute(
        predictions=[source, source], references=[target, source], sources=[source, source]
    )
    assert both == {"expression_l1": pytest.approx(2 / 36), "expression_pairs": 1}
    as_uint8 = [np.round(image * 255).astype(np.uint8) for image in (source, target)]
    by_uint8 = metric.compute(
        predictions=[as_uint8[0]], references=[as_uint8[1]], sources=[as_uint8[0]]
    )
    assert by_uint8["expression_l1"] == pytest.approx(2 / 36, abs=1e-3)


def test_expression_l1_is_the_training_losss_region():
    """The metric scores what the training loss ``changed_l1`` does on one image (against the
    source here, the warped source in training), over the same pixels."""
    import torch

    from training.animo.losses import changed_l1
    from training.animo.losses import changed_region as changed_region_of_loss

    source, target = mouth_pair(0.9)
    as_batch = [torch.from_numpy(i).permute(2, 0, 1)[None] * 2 - 1 for i in (source, target)]
    metric = load_metric("expression_l1")
    scored = metric.compute(predictions=[source], references=[target], sources=[source])
    loss = changed_l1(as_batch[0], as_batch[1], as_batch[0])  # a batch of one: that image's
    assert scored["expression_l1"] == pytest.approx(float(loss) / 2)
    # the metric's region (numpy, animeceleb.regions) is the loss's region, pixel for pixel
    signed = [image.astype(np.float64) * 2 - 1 for image in (source, target)]
    region = changed_region_of_loss(as_batch[0], as_batch[1])[0, 0].numpy() > 0
    assert np.array_equal(changed_region(*signed), region) and region.sum() == 36


def test_expression_l1_without_sources_is_one_clear_error():
    source, target = mouth_pair()
    metric = load_metric("expression_l1")
    one_line_value_error(metric.compute, predictions=[source], references=[target], match="sources")
    one_line_value_error(
        metric.compute,
        predictions=[source],
        references=[target],
        sources=[source[:8]],
        match=r"pair 0: source shape \(8, 16, 3\) differs from reference shape",
    )
    one_line_value_error(
        metric.compute,
        predictions=[source],
        references=[target],
        sources=[source, source],
        match="got 2 sources but 1 references",
    )
