"""The encoded source of one character, per expression: what the per-frame step animates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from diffusers.utils import BaseOutput

from animeceleb.pose import EXPRESSION_DIM


@dataclass
class AniMoSourceFeatures(BaseOutput):
    """The per-source cache: the source image (1 or N, 3, H, W) in [-1, 1] (with an expression
    morpher, the expressed source) and the warping and editing encoder features,
    (1 or N, C_k, H_k, W_k) each."""

    image: torch.Tensor
    warping: tuple[torch.Tensor, ...]
    editing: tuple[torch.Tensor, ...]

    def select(self, index: torch.Tensor) -> AniMoSourceFeatures:
        """The sources ``index`` (M,) of the batch, in that order (a copy)."""
        return AniMoSourceFeatures(
            image=self.image[index],
            warping=tuple(f[index] for f in self.warping),
            editing=tuple(f[index] for f in self.editing),
        )

    def concat(self, other: AniMoSourceFeatures) -> AniMoSourceFeatures:
        """This batch of sources, then ``other``'s."""
        return AniMoSourceFeatures(
            image=torch.cat([self.image, other.image]),
            warping=tuple(
                torch.cat(pair) for pair in zip(self.warping, other.warping, strict=True)
            ),
            editing=tuple(
                torch.cat(pair) for pair in zip(self.editing, other.editing, strict=True)
            ),
        )


class SourceEncoder(Protocol):
    """What :class:`AniMoSourceCache` needs of :class:`~animo_hf.AniMoPipeline`."""

    expression_morpher: torch.nn.Module | None

    def express(self, image: torch.Tensor, expression: torch.Tensor) -> torch.Tensor: ...

    def encode_source(self, image: torch.Tensor) -> AniMoSourceFeatures: ...


class AniMoSourceCache:
    """The rotator's encoded source for one neutral source image, per expression.

    Without an expression morpher the source is encoded once, here. With one, the source is
    expressed (``pipe.express``: the morpher's image) and encoded once per distinct expression
    the frames ask for: frames of a batch with equal expression values (a pose's first 17)
    share one encoding, and the last frame's expression and encoding are kept, so that a next
    batch or stream frame with the same expression (a held expression, a move of the head
    alone) runs neither the morpher nor the encoders.

    Args:
        pipe: the pipeline whose networks express and encode.
        image: the neutral source (1, 3, H, W) in [-1, 1] (``pipe.prepare_source``).

    Examples:
        >>> sources = AniMoSourceCache(pipe, image)  # doctest: +SKIP
        >>> animation = pipe.animate(sources(poses), poses)  # doctest: +SKIP
    """

    def __init__(self, pipe: SourceEncoder, image: torch.Tensor) -> None:
        self.pipe = pipe
        self.image = image
        self.expresses = pipe.expression_morpher is not None
        self.expression: torch.Tensor | None = None  # (17,) of the features kept
        self.features = None if self.expresses else pipe.encode_source(image)

    def __call__(self, pose: torch.Tensor) -> AniMoSourceFeatures:
        """The encoded sources for ``pose`` (N, 20): batch 1 when all N frames have one
        expression (and without a morpher), else one per frame, in the frames' order."""
        if not self.expresses:
            return self.features
        expression = pose[:, :EXPRESSION_DIM]
        unique, inverse = torch.unique(expression, dim=0, return_inverse=True)
        if self.expression is None:
            kept = torch.zeros(len(unique), dtype=torch.bool, device=unique.device)
        else:
            kept = (unique == self.expression).all(dim=1)
        new = unique[~kept]
        encoded = self.pipe.encode_source(self.pipe.express(self.image, new)) if len(new) else None
        if not kept.any():
            features, position = encoded, torch.arange(len(unique))
        elif encoded is None:
            features, position = self.features, torch.zeros(1, dtype=torch.long)
        else:  # the kept encoding first, then the new ones in the order of ``unique``
            features = self.features.concat(encoded)
            position = torch.cumsum(~kept, 0) * ~kept
        position = position.to(inverse.device)
        last = position[inverse[-1]]
        if len(unique) > 1:
            self.features = features.select(last[None])
            features = features.select(position[inverse])
        else:
            self.features = features
        self.expression = expression[-1].clone()
        return features
