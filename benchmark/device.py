"""Where encoding and fine-tuning run: `--device auto|cpu|cuda` (auto: cuda when available).

The default is the CPU: official results are CPU results, reproducible bit for bit on any
machine with the same libraries. A GPU gives the same models and rankings up to float order
(near-tied scores can swap), so a result records its device and `iqbench verify` compares
results from different devices within CROSS_DEVICE_TOLERANCE.
"""

from __future__ import annotations

import os

DEVICES = ("auto", "cpu", "cuda")
CROSS_DEVICE_TOLERANCE = 0.005
"""Largest aggregate metric difference verify accepts between a GPU and a CPU computation
(per-query values are not compared across devices: a near-tie may swap two documents)."""


class DeviceError(RuntimeError):
    """A device that cannot be used here."""


def resolve(name: str) -> str:
    """'cpu' or 'cuda' for a --device value; a one-line DeviceError where it cannot run."""
    if name not in DEVICES:
        raise DeviceError(f"--device {name!r}: expected one of {', '.join(DEVICES)}")
    if name == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "auto":
        return "cpu"
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    raise DeviceError(f"--device cuda: no CUDA GPU is available here (torch {torch.__version__}, {build}); "
                      "use --device cpu or auto")


def use(name: str) -> str:
    """Set the device for this process (what the command line's --device does); returns it."""
    device = resolve(name)
    os.environ["IQBENCH_DEVICE"] = device
    return device


def current() -> str:
    """The device encoding and fine-tuning use now (IQBENCH_DEVICE, else the CPU)."""
    return resolve(os.environ.get("IQBENCH_DEVICE", "cpu"))
