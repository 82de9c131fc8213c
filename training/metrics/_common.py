"""Input checks and conversions shared by the metric scripts in this folder's subfolders.

Each metric folder holds ``_common.py`` as a link to this file, and its script imports it
relatively (``from ._common import ...``): ``evaluate.load`` copies a script's relative imports from
the script's folder next to its copy, so a metric folder is complete on its own (it can be pushed
as an ``evaluate`` metric by itself) and no script imports ``training``. This module imports only
libraries and ``animeceleb`` (whose ``regions`` module holds the face crop, shared with the
training losses). Only functions and mixins that are NOT ``evaluate.EvaluationModule`` subclasses
live here: ``evaluate`` takes the first such subclass in a script's namespace as the script's
metric.

Images are ``(H, W, 3)`` arrays, float in [0, 1] or uint8 (divided by 255). ``add`` / ``add_batch``
(and so ``compute``) check them and store each one as ``.npy`` bytes: a ``datasets`` feature of
nested lists would cost about 0.3 s a 256² image to write and read back, and would lose the dtype.
Poses are 20-d vectors laid out as in ``animeceleb.pose``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np

from animeceleb.pose import EXPRESSION_DIM, POSE_DIM
from animeceleb.regions import central_crop

IMAGE_FEATURES = datasets.Features(
    {"predictions": datasets.Value("binary"), "references": datasets.Value("binary")}
)
POSE_FEATURES = datasets.Features(
    {
        "predictions": datasets.List(datasets.Value("float64")),
        "references": datasets.List(datasets.Value("float64")),
    }
)

ANGLE_BOUND_DEG = 180.0  # predicted angles are checked against this, not the data's +-20


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


# -- images ------------------------------------------------------------------------------------


def check_image(image: Any, what: str) -> np.ndarray:
    """``image`` as a uint8 or float32 (H, W, 3) array; ``ValueError`` naming any problem."""
    array = _as_array(image)
    if array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ValueError(f"{what}: expected an RGB image of shape (H, W, 3), got {array.shape}")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{what}: expected float values in [0, 1] or uint8, got dtype {array.dtype}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: expected finite values, found NaN or inf")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{what}: float images must lie in [0, 1], got values in [{low:g}, {high:g}] "
            "(clip them, or map [-1, 1] outputs with (x + 1) / 2)"
        )
    return array.astype(np.float32, copy=False)


def check_images(images: Any, what: str) -> list[np.ndarray]:
    """A batch (N, H, W, 3) or a sequence of (H, W, 3) images, each checked by ``check_image``."""
    if isinstance(images, (str, bytes)):
        raise ValueError(f"{what}: expected a batch of images, got {type(images).__name__}")
    if hasattr(images, "shape"):
        array = _as_array(images)
        if array.ndim != 4:
            raise ValueError(
                f"{what}: expected a batch of shape (N, H, W, 3) or a list of (H, W, 3) images, "
                f"got an array of shape {array.shape}"
            )
        images = list(array)
    elif not isinstance(images, Sequence):
        raise ValueError(f"{what}: expected a batch of images, got {type(images).__name__}")
    return [check_image(image, f"{what}[{i}]") for i, image in enumerate(images)]


def check_image_pairs(
    predictions: list[np.ndarray],
    references: list[np.ndarray],
    names: tuple[str, str] = ("prediction", "reference"),
) -> None:
    """One reference per prediction, of the same shape; the errors call the two sides ``names``
    (another metric input, such as the sources, is checked against the references the same way)."""
    first, second = names
    if len(predictions) != len(references):
        raise ValueError(
            f"got {len(predictions)} {first}s but {len(references)} {second}s; "
            "they must pair up one to one"
        )
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        if prediction.shape != reference.shape:
            raise ValueError(
                f"pair {i}: {first} shape {prediction.shape} differs from {second} shape "
                f"{reference.shape}"
            )


def encode_image(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, image, allow_pickle=False)
    return buffer.getvalue()


def decode_image(blob: bytes, what: str) -> np.ndarray:
    """Stored bytes back to a float64 image in [0, 1] (checked again)."""
    try:
        array = np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, TypeError, OSError) as error:
        raise ValueError(f"{what}: not an image stored by this metric ({error})") from None
    return unit_float(check_image(array, what))


def unit_float(image: np.ndarray) -> np.ndarray:
    """A checked image (``check_image``) as float64 in [0, 1] (uint8 divided by 255)."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    return image.astype(np.float64)


def check_crop(crop: Any) -> float:
    """``crop`` as a float in (0, 1]: the fraction of each side kept around the centre."""
    if isinstance(crop, bool) or not isinstance(crop, (int, float, np.floating, np.integer)):
        raise ValueError(f"crop: expected a number in (0, 1], got {crop!r}")
    crop = float(crop)
    if not 0.0 < crop <= 1.0:
        raise ValueError(f"crop: expected a fraction of each side in (0, 1], got {crop:g}")
    return crop


def image_pairs(
    predictions: Sequence[bytes],
    references: Sequence[bytes],
    crop: Any,
    *,
    min_side: int,
    metric: str,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stored pairs as float64 images in [0, 1], cropped; checks count, shapes and size."""
    crop = check_crop(crop)
    if len(predictions) == 0:
        raise ValueError(f"{metric}: no image pairs to score")
    decoded_predictions = [decode_image(b, f"predictions[{i}]") for i, b in enumerate(predictions)]
    decoded_references = [decode_image(b, f"references[{i}]") for i, b in enumerate(references)]
    check_image_pairs(decoded_predictions, decoded_references)
    pairs = []
    for i, (prediction, reference) in enumerate(
        zip(decoded_predictions, decoded_references, strict=True)
    ):
        prediction, reference = central_crop(prediction, crop), central_crop(reference, crop)
        if min(prediction.shape[:2]) < min_side:
            raise ValueError(
                f"{metric}: pair {i} is {prediction.shape[0]} x {prediction.shape[1]} after "
                f"crop={crop:g}; the metric needs at least {min_side} pixels a side"
            )
        pairs.append((prediction, reference))
    return pairs


# -- poses -------------------------------------------------------------------------------------


def check_poses(poses: Any, what: str, *, batch: bool = True) -> np.ndarray:
    """Poses as a float64 array (N, 20) (or (20,) with ``batch=False``); ``ValueError`` naming any
    problem. Expression dims must lie in [0, 1], angles within +-180 degrees."""
    try:
        array = np.asarray(_as_array(poses), dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(
            f"{what}: expected {'a list of ' if batch else ''}{POSE_DIM}-d numeric pose vectors "
            "(ragged or non-numeric input)"
        ) from None
    expected = f"(N, {POSE_DIM})" if batch else f"({POSE_DIM},)"
    if array.shape[-1:] != (POSE_DIM,) or array.ndim != (2 if batch else 1):
        raise ValueError(f"{what}: expected poses of shape {expected}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: expected finite values, found NaN or inf")
    rows = array.reshape(-1, POSE_DIM)
    expressions, angles = rows[:, :EXPRESSION_DIM], rows[:, EXPRESSION_DIM:]
    if expressions.size and (expressions.min() < 0.0 or expressions.max() > 1.0):
        raise ValueError(
            f"{what}: expression dims 0-{EXPRESSION_DIM - 1} must lie in [0, 1], got values in "
            f"[{expressions.min():g}, {expressions.max():g}]"
        )
    if angles.size and np.abs(angles).max() > ANGLE_BOUND_DEG:
        raise ValueError(
            f"{what}: yaw, pitch, roll (dims {EXPRESSION_DIM}-{POSE_DIM - 1}) are degrees within "
            f"+-{ANGLE_BOUND_DEG:g}, got {np.abs(angles).max():g}"
        )
    return array


def pose_pairs(predictions: Any, references: Any, *, metric: str) -> tuple[np.ndarray, np.ndarray]:
    predictions = check_poses(predictions, "predictions")
    references = check_poses(references, "references")
    if len(predictions) == 0:
        raise ValueError(f"{metric}: no pose pairs to score")
    if len(predictions) != len(references):
        raise ValueError(
            f"got {len(predictions)} predictions but {len(references)} references; "
            "they must pair up one to one"
        )
    return predictions, references


# -- mixins: checks before anything reaches evaluate's Arrow writer ----------------------------


class _PairInputs:
    """Checks and converts inputs in ``add`` / ``add_batch`` (``compute`` calls ``add_batch``), so a
    bad input fails there with one line instead of evaluate's multi-line Arrow message; and the
    metric's ``_info`` from its ``DESCRIPTION``, ``CITATION`` and ``INPUTS`` texts."""

    DESCRIPTION = CITATION = INPUTS = ""
    CODEBASE_URLS: tuple[str, ...] = ()
    REFERENCE_URLS: tuple[str, ...] = ()
    FEATURES: datasets.Features

    def _info(self):
        import evaluate

        return evaluate.MetricInfo(
            description=self.DESCRIPTION,
            citation=self.CITATION,
            inputs_description=self.INPUTS,
            features=self.FEATURES,
            codebase_urls=list(self.CODEBASE_URLS),
            reference_urls=list(self.REFERENCE_URLS),
        )

    def _check_batch(self, values: Any, what: str) -> list[Any]:
        raise NotImplementedError

    def _check_pair_batches(self, predictions: list[Any], references: list[Any]) -> None:
        if len(predictions) != len(references):
            raise ValueError(
                f"got {len(predictions)} predictions but {len(references)} references; "
                "they must pair up one to one"
            )

    def _encode(self, values: list[Any]) -> list[Any]:
        return values

    # evaluate appends the metric's inputs description to these docstrings: they must exist.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Check a batch of (prediction, reference) pairs and add it to the metric's stack."""
        if (predictions is None) != (references is None):
            raise ValueError("predictions and references must be given together")
        if predictions is not None:
            predictions = self._check_batch(predictions, "predictions")
            references = self._check_batch(references, "references")
            self._check_pair_batches(predictions, references)
            predictions, references = self._encode(predictions), self._encode(references)
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Check one (prediction, reference) pair and add it to the metric's stack."""
        if (prediction is None) != (reference is None):
            raise ValueError("prediction and reference must be given together")
        if prediction is not None:
            predictions = self._check_one(prediction, "prediction")
            references = self._check_one(reference, "reference")
            self._check_pair_batches(predictions, references)
            (prediction,), (reference,) = self._encode(predictions), self._encode(references)
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _check_one(self, value: Any, what: str) -> list[Any]:
        raise NotImplementedError


class ImagePairInputs(_PairInputs):
    """Mixin for image metrics: ``class SSIM(ImagePairInputs, evaluate.Metric)``."""

    FEATURES = IMAGE_FEATURES

    def _check_batch(self, values: Any, what: str) -> list[np.ndarray]:
        return check_images(values, what)

    def _check_pair_batches(self, predictions, references) -> None:
        check_image_pairs(predictions, references)

    def _encode(self, values: list[np.ndarray]) -> list[bytes]:
        return [encode_image(image) for image in values]

    def _check_one(self, value: Any, what: str) -> list[np.ndarray]:
        return [check_image(value, what)]


class PosePairInputs(_PairInputs):
    """Mixin for pose metrics: ``class HeadAngleError(PosePairInputs, evaluate.Metric)``."""

    FEATURES = POSE_FEATURES

    def _check_batch(self, values: Any, what: str) -> list[list[float]]:
        return check_poses(values, what).tolist()

    def _check_one(self, value: Any, what: str) -> list[list[float]]:
        return [check_poses(value, what, batch=False).tolist()]
