"""Training throughput: samples per second of one optimizer step (forward, losses, backward, Adam)
per model at 128² and 256², in variants measured in the same run, interleaved round by round:
torch's default threads vs one, channels-last, ``torch.compile``, bf16 autocast. The data path is
timed separately: decoding and augmenting pairs from a real build with 0 and 2 loader workers.

    python benchmarks/train_throughput.py [--rounds 3] [--seconds 3] [--dataset HUB_FOLDER]

The model steps use random images (speed does not depend on the pixels); the default config's
losses (multi-scale L1, SSIM, flow smoothness, alpha) and the whole model (the second phase).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from machine import describe_machine  # benchmarks/machine.py
from torch.utils.data import DataLoader

from training.animo.configuration_animo import LossWeights, ModelConfig, PairConfig
from training.animo.losses import compute_losses
from training.animo.modeling_animo import build_model
from training.configuration import DataConfig
from training.data import PairDataset, SeededPairSampler, load_split, training_pairs

LOSS = LossWeights(l1=1.0, ssim=0.5, flow_smoothness=0.1, alpha=0.5)


def random_batch(size: int, batch: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    pose = torch.rand(batch, 20, generator=generator)
    pose[:, 17:] = pose[:, 17:] * 40 - 20
    images = torch.rand(batch, 8, size, size, generator=generator)
    return {
        "source": images[:, :3] * 2 - 1,
        "target": images[:, 3:6] * 2 - 1,
        "source_alpha": images[:, 6:7],
        "target_alpha": images[:, 7:8],
        "pose": pose,
    }


def make_step(model_name: str, size: int, batch: int, **variant) -> Callable[[], None]:
    model = build_model(ModelConfig(name=model_name), seed=0, resolution=size)
    data = random_batch(size, batch)
    if variant.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
        data = {
            k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v
            for k, v in data.items()
        }
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.999))
    forward = torch.compile(model, dynamic=False) if variant.get("compile") else model
    dtype = torch.bfloat16 if variant.get("bf16") else None

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            terms = compute_losses(forward(data["source"], data["pose"], full=True), data, LOSS)
        terms["total"].backward()
        optimizer.step()
        optimizer.zero_grad()

    step()  # warm-up (and compilation)
    return step


def samples_per_second(step: Callable[[], None], batch: int, seconds: float, threads: int | None):
    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    try:
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            steps += 1
        return steps * batch / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(default)


def data_rate(dataset: str, size: int, workers: int, count: int = 64) -> float:
    config = DataConfig(dataset=dataset, resolution=size, resize=True, num_workers=workers)
    groups = PairConfig()
    train = load_split(dataset)
    pairs = training_pairs(train, config, groups.source_groups, groups.target_groups, seed=0)
    data = PairDataset(train, pairs, size, augment=True)
    loader = DataLoader(
        data, batch_size=8, sampler=SeededPairSampler(len(data), 0), num_workers=workers
    )
    batches = iter(loader)
    next(batches)  # start the workers
    start = time.perf_counter()
    for _ in range(count // 8):
        next(batches)
    return count / (time.perf_counter() - start)


VARIANTS = {
    "eager": {},
    "eager, 1 thread": {"threads": 1},
    "channels_last": {"channels_last": True},
    "bf16 autocast": {"bf16": True},
    "torch.compile": {"compile": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--models", nargs="+", default=["animo", "pirenderer"])
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--dataset", help="a built Hub folder: also time the data path")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    variants = {k: v for k, v in VARIANTS.items() if not (args.no_compile and v.get("compile"))}
    machine = describe_machine(torch_threads=True)
    print(f"machine: {machine}; batch {args.batch}; median (best) of {args.rounds} rounds\n")
    print("| model | size | variant | samples/s | vs eager |\n|---|---|---|---|---|")
    results = []
    for model_name in args.models:
        for size in args.sizes:
            steps = {
                name: make_step(model_name, size, args.batch, **options)
                for name, options in variants.items()
            }
            samples = {name: [] for name in steps}
            for _ in range(args.rounds):
                for name, step in steps.items():
                    threads = variants[name].get("threads")
                    rate = samples_per_second(step, args.batch, args.seconds, threads)
                    samples[name].append(rate)
            base = statistics.median(samples["eager"])
            for name, rates in samples.items():
                median = statistics.median(rates)
                results.append(
                    {"model": model_name, "size": size, "variant": name, "samples": rates}
                )
                print(
                    f"| {model_name} | {size}² | {name} | {median:.1f} ({max(rates):.1f}) | "
                    f"{median / base:.2f} |"
                )
    data = {}
    if args.dataset:
        for workers in (0, 2):
            data[f"{workers} workers"] = data_rate(args.dataset, 128, workers)
            print(
                f"data path (decode + augment), 128², {workers} loader workers: "
                f"{data[f'{workers} workers']:.1f} pairs/s"
            )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "steps": results, "data": data}))


if __name__ == "__main__":
    main()
