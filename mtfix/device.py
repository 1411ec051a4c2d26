"""Where the models run (--device auto|cpu|cuda): a GPU when there is one, unless told otherwise."""
from __future__ import annotations

from typing import Any

DEVICES = ("auto", "cpu", "cuda")


def native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 natively (x86 avx512_bf16 or AMX, as Linux reports them): elsewhere bf16 is
    emulated, and slower than fp32."""
    from pathlib import Path

    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve(name: str | None) -> str:
    """The device ``name`` means here: auto is cuda where a CUDA GPU is visible, else cpu; cuda (or cuda:N)
    where none is, a one-line InputError."""
    import torch

    from mtfix.errors import InputError

    name = name or "auto"
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: this machine has no CUDA GPU (use --device cpu, or auto)")
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        return name
    raise InputError(f"--device must be auto, cpu or cuda (or cuda:N), not {name!r}")


def use(device: str) -> None:
    """Tensors mtfix makes from now on are made on ``device`` (the process's default device): a model's inputs
    are then where the model is, with no copy per batch."""
    import torch

    if device != "cpu":
        torch.set_default_device(device)


def place(root: Any, device: str, depth: int = 5, seen: set[int] | None = None) -> None:
    """Move every torch module that ``root`` holds (itself, or within mtfix's own objects a few levels down: a
    detector's tagger, its language model and fusion head, a corrector's model) to ``device``."""
    import torch

    seen = set() if seen is None else seen
    if root is None or depth < 0 or id(root) in seen:
        return
    seen.add(id(root))
    if isinstance(root, torch.nn.Module):
        root.to(device)
        return
    if isinstance(root, (list, tuple)):
        for item in root:
            place(item, device, depth - 1, seen)
        return
    if isinstance(root, dict):
        for item in root.values():
            place(item, device, depth - 1, seen)
        return
    if type(root).__module__.startswith("mtfix") and hasattr(root, "__dict__"):
        for item in vars(root).values():
            place(item, device, depth - 1, seen)
