"""The trained models behind one interface: ``forward(source, pose, full)`` gives the warped source
and the flow (the warping path) and, with ``full``, the generated image; ``save(folder)`` writes
the weights in the Hub layout the pipeline loads."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from animeceleb.pose import EXPRESSION_DIM
from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
)
from animo_hf.lora import add_lora, load_lora_into_adapters, lora_file, save_lora_weights
from animo_hf.models.expression_morpher import ExpressionMorpher, MorpherOutput

from .configuration_animo import ModelConfig


@dataclass
class Prediction:
    """warped (N, 3, H, W): the source warped by the flow; flow (N, 2, h, w); image (N, 3, H, W)
    the output (``None`` on the warping path alone); generated (N, 3, H, W): AniMo's generated
    image before the mask composes it with the warped source (``None`` without a mask); all
    images in [-1, 1]; mask (N, 1, H, W) in [0, 1]: the weight of the warped source in the output
    (``None`` without a mask); morphed: the expression stage's output when it ran (its image is
    the source the rotator turned; on the expression stage alone it is the output, and
    ``warped`` and ``image`` are its image, ``flow`` its small warp)."""

    warped: torch.Tensor
    flow: torch.Tensor
    image: torch.Tensor | None
    generated: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    morphed: MorpherOutput | None = None  # the expression stage's, when it ran


class AniMoModel(nn.Module):
    """AniMo's anime-domain path: T (fixed), F, the warping and the editing networks (the
    rotator), and optionally the expression stage before them."""

    def __init__(
        self,
        resolution: int = 256,
        editing: dict[str, Any] | None = None,
        expression_morpher: dict[str, Any] | None = None,
    ) -> None:
        """``editing``: :class:`animo_hf.EditingNetwork` arguments (its size and options); the
        editing network records the training ``resolution``. ``expression_morpher``:
        :class:`animo_hf.ExpressionMorpher` arguments (``None``: no expression stage)."""
        super().__init__()
        self.pose_mapping = PoseMapping()
        self.motion_network = MotionNetwork()
        self.warping_network = WarpingNetwork()
        self.editing_network = EditingNetwork(sample_size=resolution, **(editing or {}))
        self.expression_morpher = (
            None if expression_morpher is None else ExpressionMorpher(**expression_morpher)
        )
        # the components with a LoRA adapter (add_lora)
        self.lora_components: tuple[str, ...] = ()

    def add_lora(self, rank: int, components: Sequence[str]) -> None:
        """Freeze every loaded weight and train LoRA adapters of ``rank`` on ``components``
        (:func:`animo_hf.lora.add_lora`)."""
        self.requires_grad_(False)
        self.lora_components = tuple(components)
        add_lora({name: getattr(self, name) for name in components}, rank)

    def forward(
        self, source: torch.Tensor, pose: torch.Tensor, full: bool, expression: str | None = None
    ) -> Prediction:
        """source (N, 3, H, W) in [-1, 1], pose (N, 20). ``full``: the whole rotator (else its
        warping path alone); ``expression``: ``None`` (the rotator on the source as given),
        ``"alone"`` (the expression stage alone) or ``"first"`` (the expression stage, then the
        rotator on its output)."""
        morphed = None
        if expression is not None:
            morphed = self.expression_morpher(source, pose[:, :EXPRESSION_DIM])
            if expression == "alone":
                image = morphed.image
                return Prediction(image, morphed.flow, image, morphed=morphed)
            source = morphed.image
        prediction = self.rotate(source, pose, full)
        prediction.morphed = morphed
        return prediction

    def rotate(self, source: torch.Tensor, pose: torch.Tensor, full: bool) -> Prediction:
        """The rotator: the warping and (with ``full``) editing networks on ``source``."""
        z = self.motion_network(self.pose_mapping(pose))
        flow = self.warping_network(self.warping_network.encode_source(source), z)
        warped = self.editing_network.warp_source(source, flow)
        if not full:
            return Prediction(warped=warped, flow=flow, image=None)
        features = self.editing_network.encode_source(source)
        generated, mask = self.editing_network.decode(features, flow, z)
        if mask is None:
            return Prediction(warped=warped, flow=flow, image=generated)
        image = self.editing_network.compose(generated, mask, warped)
        return Prediction(warped, flow, image, generated=generated, mask=mask)

    def save(self, folder: Path) -> None:
        """The pipeline folder; with adapters, a copy whose adapters are fused (see
        :meth:`save_lora` for the adapter alone)."""
        model = self
        if self.lora_components:
            model = copy.deepcopy(self)
            for name in self.lora_components:
                getattr(model, name).fuse_lora()
                getattr(model, name).unload_lora()
        extra = {}
        if model.expression_morpher is not None:
            extra["expression_morpher"] = model.expression_morpher
        AniMoPipeline(
            model.pose_mapping,
            model.motion_network,
            model.warping_network,
            model.editing_network,
            **extra,
        ).save_pretrained(folder)

    def load_lora(self, pretrained: str) -> None:
        """Start the adapters (:meth:`add_lora`) from the adapter saved in ``pretrained`` (a
        folder or Hub repo id, as :meth:`save_lora` writes it)."""
        components = {name: getattr(self, name) for name in self.lora_components}
        load_lora_into_adapters(components, lora_file(pretrained))

    def save_lora(self, folder: Path) -> None:
        """The adapters alone (:func:`animo_hf.lora.save_lora_weights`)."""
        save_lora_weights({name: getattr(self, name) for name in self.lora_components}, folder)

    def load(self, folder: str) -> None:
        """Take the weights of an AniMo pipeline folder (or Hub repo id) written by :meth:`save`
        (an expression stage the folder lacks keeps its initialisation: a rotator that learns
        one)."""
        pipe = AniMoPipeline.from_pretrained(folder)
        for name in ("pose_mapping", "motion_network", "warping_network", "editing_network"):
            copy_weights(getattr(pipe, name), getattr(self, name), f"{folder} ({name})")
        morpher = getattr(pipe, "expression_morpher", None)
        if morpher is not None and self.expression_morpher is not None:
            copy_weights(morpher, self.expression_morpher, f"{folder} (expression_morpher)")


class PIRendererModel(nn.Module):
    """The PIRenderer-style baseline, driven by the pose vector."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = PIRendererGenerator()

    def forward(
        self, source: torch.Tensor, pose: torch.Tensor, full: bool, expression: None = None
    ) -> Prediction:
        output = self.generator.animate(self.generator.encode_source(source), pose)
        return Prediction(
            warped=output.warped, flow=output.flow, image=output.image if full else None
        )

    def save(self, folder: Path) -> None:
        self.generator.save_pretrained(folder)

    def load(self, folder: str) -> None:
        """Take the weights of a generator folder (or Hub repo id) written by :meth:`save`."""
        copy_weights(PIRendererGenerator.from_pretrained(folder), self.generator, folder)


def copy_weights(loaded: nn.Module, model: nn.Module, where: str) -> None:
    """Copy ``loaded``'s weights into ``model``; ``ValueError`` naming ``where`` when their configs
    differ (a checkpoint of another architecture)."""
    theirs, ours = (json.loads(json.dumps(dict(m.config), default=str)) for m in (loaded, model))
    # neither loading notes nor the training size nor the warp's sampling (fine-tuning may change
    # them) are architecture
    settings = {"sample_size", "warp_interpolation"}
    fields = {k for k in set(theirs) | set(ours) if not k.startswith("_") and k not in settings}
    differ = sorted(k for k in fields if theirs.get(k) != ours.get(k))
    if differ:
        raise ValueError(
            f"init_weights {where}: config fields {differ} differ from the model this run builds "
            f"({ {k: theirs.get(k) for k in differ} } vs { {k: ours.get(k) for k in differ} })"
        )
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"init_weights {where}: weights missing {missing}, unexpected {unexpected}"
        )


def build_model(config: ModelConfig, seed: int, resolution: int) -> nn.Module:
    """The model of ``config`` for images of ``resolution``² (``torch.manual_seed(seed)``
    first, so runs are repeatable), with the weights of ``config.init_weights`` when given
    and, with ``config.lora``, LoRA adapters on AniMo's components over those weights, frozen
    (:meth:`AniMoModel.add_lora`), started from the adapter of ``config.lora.init`` when given."""
    torch.manual_seed(seed)
    if config.name == "animo":
        editing = dataclasses.asdict(config.editing)
        morpher = config.expression_morpher
        model: nn.Module = AniMoModel(
            resolution, editing, None if morpher is None else dataclasses.asdict(morpher)
        )
    else:
        model = PIRendererModel()
    if config.init_weights is not None:
        try:
            model.load(config.init_weights)
        except OSError as error:
            raise FileNotFoundError(
                f"model.init_weights {config.init_weights!r}: {error}"
            ) from None
    if config.lora is not None:
        model.add_lora(config.lora.rank, config.lora.components)
        if config.lora.init is not None:
            try:
                model.load_lora(config.lora.init)
            except OSError as error:
                raise FileNotFoundError(f"model.lora.init {config.lora.init!r}: {error}") from None
    return model
