"""LoRA adapters for AniMo's networks: a fine-tune of published weights kept as a small file.

An adapter adds low-rank updates (peft's LoRA, through diffusers' ``PeftAdapterMixin``) to every
convolution and linear layer of the motion, warping and editing networks. It is saved as one
``pytorch_lora_weights.safetensors`` whose keys are prefixed with the component's name
(``editing_network.decoder.blocks.0.conv1.lora_A.weight``) and whose metadata holds each
component's ``LoraConfig`` and a fingerprint of the weights it was trained on, so an adapter
applied to other base weights is refused instead of drawing garbage. Loading fuses the update
into the base weights and removes peft's layers: the fused networks run at the base's speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from diffusers.loaders.lora_base import LORA_WEIGHT_NAME_SAFE
from torch import nn

from .loading import check_safetensors_file, local_folder

# the components an adapter may change (the pose mapping T is a fixed table)
ADAPTED_COMPONENTS = ("motion_network", "warping_network", "editing_network")
CONFIGS_KEY = "lora_configs"
BASE_KEY = "base_fingerprints"


def adapted_layers(module: nn.Module) -> list[str]:
    """The names of ``module``'s convolution and linear layers: what an adapter changes."""
    return [
        name for name, layer in module.named_modules() if isinstance(layer, nn.Conv2d | nn.Linear)
    ]


def add_lora(components: Mapping[str, nn.Module], rank: int) -> None:
    """Give each component a trainable LoRA adapter of ``rank`` (``lora_alpha = rank``) on every
    layer of :func:`adapted_layers`; the base weights stop requiring gradients. The update starts
    at zero, so the networks draw what the base draws until the adapter trains."""
    from peft import LoraConfig

    for module in components.values():
        module.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, target_modules=adapted_layers(module))
        )


def weights_fingerprint(module: nn.Module) -> str:
    """A hash of ``module``'s own weights (not an adapter's) as float16: the same for a float32
    copy of float16 weights, so a run initialised from a published folder matches that folder."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if "lora_" in name:
            continue
        digest.update(name.replace(".base_layer", "").encode())
        digest.update(tensor.detach().to("cpu", torch.float16).numpy().tobytes())
    return digest.hexdigest()[:16]


def save_lora_weights(components: Mapping[str, nn.Module], folder: str | os.PathLike) -> Path:
    """Write the adapters of ``components`` (each with one adapter, :func:`add_lora`) to
    ``folder/pytorch_lora_weights.safetensors``, with each component's LoraConfig and the
    :func:`weights_fingerprint` of the frozen weights under it. Returns the file."""
    from peft.utils import get_peft_model_state_dict

    tensors, configs = {}, {}
    for name, module in components.items():
        state = get_peft_model_state_dict(module)
        tensors.update({f"{name}.{key}": value.contiguous() for key, value in state.items()})
        config = module.peft_config["default"].to_dict()
        configs[name] = {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()}
    metadata = {
        "format": "pt",
        CONFIGS_KEY: json.dumps(configs, sort_keys=True),
        BASE_KEY: json.dumps(
            {name: weights_fingerprint(module) for name, module in components.items()},
            sort_keys=True,
        ),
    }
    path = Path(folder) / LORA_WEIGHT_NAME_SAFE
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(tensors, path, metadata=metadata)
    return path


def lora_file(pretrained: str | os.PathLike, **hub_kwargs: Any) -> Path:
    """The adapter file of a local folder (checked to be a whole safetensors file) or of a Hub
    repo id (downloaded through ``huggingface_hub``)."""
    folder = local_folder(pretrained)
    if folder is None:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(str(pretrained), LORA_WEIGHT_NAME_SAFE, **hub_kwargs))
    path = folder / LORA_WEIGHT_NAME_SAFE
    check_safetensors_file(path)
    return path


def read_lora_file(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict, dict]:
    """The adapter tensors of ``path`` by component, each component's ``LoraConfig`` fields and
    the fingerprints of the weights it was trained on; ``ValueError`` naming the file when it is
    not an AniMo adapter."""
    with safetensors.safe_open(str(path), "pt") as handle:
        metadata = handle.metadata() or {}
        if CONFIGS_KEY not in metadata or BASE_KEY not in metadata:
            raise ValueError(
                f"{path}: expected an AniMo LoRA adapter (metadata {CONFIGS_KEY!r} and "
                f"{BASE_KEY!r}), found metadata keys {sorted(metadata)}"
            )
        by_component: dict[str, dict[str, torch.Tensor]] = {}
        for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
            component, _, layer = key.partition(".")
            by_component.setdefault(component, {})[layer] = handle.get_tensor(key)
    try:
        configs, bases = json.loads(metadata[CONFIGS_KEY]), json.loads(metadata[BASE_KEY])
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: its adapter metadata is not JSON ({error})") from None
    unknown = sorted(set(by_component) - set(ADAPTED_COMPONENTS))
    if unknown or set(by_component) != set(configs):
        raise ValueError(
            f"{path}: adapter components {sorted(by_component)} with configs for "
            f"{sorted(configs)}; expected the same names among {ADAPTED_COMPONENTS}"
        )
    return by_component, configs, bases


def check_base_weights(
    components: Mapping[str, nn.Module],
    path: Path,
    tensors: Mapping[str, Any],
    bases: Mapping[str, str],
) -> None:
    """``ValueError`` naming ``path`` and the component when the weights of a component the
    adapter changes are not the ones it was trained on."""
    for name in [n for n in ADAPTED_COMPONENTS if n in tensors]:
        found = weights_fingerprint(components[name])
        if found != bases.get(name):
            raise ValueError(
                f"{path}: the adapter was trained on {name} weights {bases.get(name)}, this "
                f"pipeline's are {found}: load it onto the base weights its card names"
            )


def load_lora_into_adapters(components: Mapping[str, nn.Module], path: Path) -> None:
    """Set the trainable adapters of ``components`` (:func:`add_lora`) to the adapter saved in
    ``path`` (:func:`save_lora_weights`), to train it further: ``ValueError`` naming the file
    when it was trained on other base weights, changes other components, or has another rank or
    other layers."""
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

    tensors, configs, bases = read_lora_file(path)
    if set(tensors) != set(components):
        raise ValueError(
            f"{path}: the adapter changes {sorted(tensors)}; this run adapts {sorted(components)}"
        )
    check_base_weights(components, path, tensors, bases)
    for name, state in tensors.items():
        module = components[name]
        wanted = get_peft_model_state_dict(module)
        if set(state) != set(wanted) or any(
            state[key].shape != wanted[key].shape for key in wanted
        ):
            rank = configs[name].get("r")
            raise ValueError(
                f"{path}: {name}: its adapter (rank {rank}) does not fit this run's layers "
                f"(rank {module.peft_config['default'].r})"
            )
        dtype = next(module.parameters()).dtype
        set_peft_model_state_dict(module, {k: v.to(dtype) for k, v in state.items()})


def fuse_lora_weights(
    components: Mapping[str, nn.Module], path: Path, lora_scale: float = 1.0
) -> None:
    """Fuse the adapter in ``path`` into ``components`` (by name), scaled by ``lora_scale``.
    ``ValueError`` naming the file and component when the component's weights are not the ones
    the adapter was trained on, or its tensors do not fit the layers; nothing changes then."""
    tensors, configs, bases = read_lora_file(path)
    check_base_weights(components, path, tensors, bases)
    loaded = []
    for name, state in tensors.items():
        module = components[name]
        dtype = next(module.parameters()).dtype
        state = {key: value.to(dtype) for key, value in state.items()}
        try:
            module.load_lora_adapter(
                state, prefix=None, metadata=configs[name], adapter_name="lora"
            )
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            for done in [*loaded, module]:  # peft's layers out: the base weights as they were
                done.unload_lora()
            summary = str(error).strip().splitlines()[0]
            raise ValueError(f"{path}: {name}: the adapter does not fit ({summary})") from None
        loaded.append(module)
    for module in loaded:
        module.fuse_lora(lora_scale=lora_scale)
        module.unload_lora()
