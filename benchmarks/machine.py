"""The machine line every benchmark prints first, so absolute figures name their host."""

from __future__ import annotations

import os
import platform


def describe_machine(*, torch_threads: bool = False) -> str:
    """Architecture, cores, platform and load average; with ``torch_threads``, torch's version and
    intra-op threads (imports torch)."""
    parts = [platform.machine(), f"{os.cpu_count()} cores", platform.platform()]
    if torch_threads:
        import torch

        parts += [f"torch {torch.__version__}", f"{torch.get_num_threads()} threads"]
    parts.append(f"load average {os.getloadavg()[0]:.2f}")
    return ", ".join(parts)
