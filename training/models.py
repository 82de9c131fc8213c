"""The trained models behind one interface: ``forward(source, pose, full)`` gives the warped source
and the flow (the warping path) and, with ``full``, the generated image; ``save(folder)`` writes
the weights in the Hub layout the pipeline loads."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
)
from animo_hf.lora import add_lora, load_lora_into_adapters, lora_file, save_lora_weights


@dataclass
class Prediction:
    """warped (N, 3, H, W): the source warped by the flow; flow (N, 2, h, w); image (N, 3, H, W)
    the output (``None`` on the warping path alone); generated (N, 3, H, W): AniMo's generated
    image before the mask composes it with the warped source (``None`` without a mask); all
    images in [-1, 1]; mask (N, 1, H, W) in [0, 1]: the weight of the warped source in the output
    (``None`` without a mask)."""

    warped: torch.Tensor
    flow: torch.Tensor
    image: torch.Tensor | None
    generated: torch.Tensor | None = None
    mask: torch.Tensor | None = None


class AniMoModel(nn.Module):
    """AniMo's anime-domain path: T (fixed), F, the warping and the editing networks."""

    def __init__(
        self,
        resolution: int = 256,
        editing: dict[str, Any] | None = None,
        warping: dict[str, Any] | None = None,
    ) -> None:
        """``editing`` and ``warping``: :class:`animo_hf.EditingNetwork` and
        :class:`animo_hf.WarpingNetwork` arguments (their size and options)."""
        super().__init__()
        self.pose_mapping = PoseMapping()
        self.motion_network = MotionNetwork()
        self.warping_network = WarpingNetwork(**(warping or {}))
        self.editing_network = EditingNetwork(sample_size=resolution, **(editing or {}))
        # the components with a LoRA adapter (add_lora)
        self.lora_components: tuple[str, ...] = ()

    def add_lora(self, rank: int, components: Sequence[str]) -> None:
        """Freeze every loaded weight and train LoRA adapters of ``rank`` on ``components``
        (:func:`animo_hf.lora.add_lora`)."""
        self.requires_grad_(False)
        self.lora_components = tuple(components)
        add_lora({name: getattr(self, name) for name in components}, rank)

    def forward(self, source: torch.Tensor, pose: torch.Tensor, full: bool) -> Prediction:
        z = self.motion_network(self.pose_mapping(pose))
        flow = self.warping_network(self.warping_network.encode_source(source), z)
        warped = self.editing_network.warp_source(source, flow)
        if not full:
            return Prediction(warped=warped, flow=flow, image=None)
        features = self.editing_network.encode_source(source)
        generated, mask = self.editing_network.decode(features, flow, z, warped)
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
        AniMoPipeline(
            model.pose_mapping, model.motion_network, model.warping_network, model.editing_network
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
        """Take the weights of an AniMo pipeline folder (or Hub repo id) written by :meth:`save`."""
        pipe = AniMoPipeline.from_pretrained(folder)
        for name in ("pose_mapping", "motion_network", "warping_network", "editing_network"):
            copy_weights(getattr(pipe, name), getattr(self, name), f"{folder} ({name})")


class PIRendererModel(nn.Module):
    """The PIRenderer-style baseline, driven by the pose vector."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = PIRendererGenerator()

    def forward(self, source: torch.Tensor, pose: torch.Tensor, full: bool) -> Prediction:
        output = self.generator.animate(self.generator.encode_source(source), pose)
        return Prediction(
            warped=output.warped, flow=output.flow, image=output.image if full else None
        )

    def save(self, folder: Path) -> None:
        self.generator.save_pretrained(folder)

    def load(self, folder: str) -> None:
        """Take the weights of a generator folder (or Hub repo id) written by :meth:`save`."""
        copy_weights(PIRendererGenerator.from_pretrained(folder), self.generator, folder)


# parts fine-tuning may add to loaded weights (config field: module): they start as what the loaded
# network did (the skip at zero, the flow's upsampling as bilinear)
ADDABLE_PARTS = {"source_skip": "source_skip_head", "convex_upsampling": "flow_upsampler"}


def copy_weights(loaded: nn.Module, model: nn.Module, where: str) -> None:
    """Copy ``loaded``'s weights into ``model``; ``ValueError`` naming ``where`` when their configs
    differ (a checkpoint of another architecture), except that ``model`` may add a part of
    ``ADDABLE_PARTS`` the loaded weights lack (it keeps its initialisation)."""
    theirs, ours = (json.loads(json.dumps(dict(m.config), default=str)) for m in (loaded, model))
    # neither loading notes nor the training size nor the warp's sampling (fine-tuning may change
    # them) are architecture
    settings = {"sample_size", "warp_interpolation"}
    fields = {k for k in set(theirs) | set(ours) if not k.startswith("_") and k not in settings}
    added = {k for k in fields & set(ADDABLE_PARTS) if ours.get(k) and not theirs.get(k)}
    differ = sorted(k for k in fields - added if theirs.get(k) != ours.get(k))
    if differ:
        raise ValueError(
            f"init_weights {where}: config fields {differ} differ from the model this run builds "
            f"({ {k: theirs.get(k) for k in differ} } vs { {k: ours.get(k) for k in differ} })"
        )
    added_modules = {ADDABLE_PARTS[k] for k in added}
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    left_out = [k for k in missing if k.split(".")[0] not in added_modules]
    if left_out or unexpected:
        raise ValueError(
            f"init_weights {where}: weights missing {left_out}, unexpected {unexpected}"
        )


MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "animo": AniMoModel,  # the editing network records the training resolution
    "pirenderer": lambda resolution, editing, warping: PIRendererModel(),
}


def build_model(
    name: str,
    seed: int,
    init_weights: str | None = None,
    resolution: int = 256,
    editing: dict[str, Any] | None = None,
    warping: dict[str, Any] | None = None,
    lora_rank: int | None = None,
    lora_components: Sequence[str] = (),
    init_lora: str | None = None,
) -> nn.Module:
    """A freshly initialised model for images of ``resolution``² (``torch.manual_seed(seed)``
    first, so runs are repeatable), with the weights of ``init_weights`` (a folder or Hub repo id
    written by its ``save``) when given. ``editing`` and ``warping``: the size and options of
    AniMo's editing and warping networks (:class:`animo_hf.EditingNetwork` and
    :class:`animo_hf.WarpingNetwork` arguments; the baseline has neither). With ``lora_rank``,
    the loaded weights of AniMo's ``lora_components`` are frozen under LoRA adapters
    (:meth:`AniMoModel.add_lora`), which start from the adapter of ``init_lora`` when given."""
    torch.manual_seed(seed)
    model = MODEL_BUILDERS[name](resolution, editing, warping)
    if init_weights is not None:
        try:
            model.load(init_weights)
        except OSError as error:
            raise FileNotFoundError(f"config init_weights = {init_weights!r}: {error}") from None
    if lora_rank is not None:
        model.add_lora(lora_rank, lora_components)
    if init_lora is not None:
        try:
            model.load_lora(init_lora)
        except OSError as error:
            raise FileNotFoundError(f"config init_lora = {init_lora!r}: {error}") from None
    return model
