"""The shipped models: where they live, and the initialiser the models that learn from scratch share."""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

MODELS = Path(os.environ.get("MTFIX_MODELS", Path(__file__).resolve().parents[1] / "models"))


def shipped_detector() -> Path | None:
    """The shipped tagger's folder, if there is one."""
    path = MODELS / "detector"
    return path if (path / "config.json").exists() else None


def shipped_fusion() -> Path | None:
    """The shipped fusion head's folder (the tagger's LM evidence), if there is one."""
    path = MODELS / "detector" / "fused"
    return path if (path / "config.json").exists() and shipped_detector() else None


def shipped_corrector() -> Path | None:
    """The shipped corrector's folder, if there is one."""
    path = MODELS / "corrector"
    return path if (path / "config.json").exists() else None


def shipped_rewriter() -> Path | None:
    """The shipped LM rewriter's folder (LoRA adapters on SmolLM2, the default corrector), if there is one."""
    path = MODELS / "rewriter"
    return path if is_rewriter(path) else None


def is_rewriter(path: str | Path) -> bool:
    """Whether a corrector folder holds LM rewriter adapters (else it is a span decoder)."""
    return (Path(path) / "adapter_config.json").exists()


def init_weights(module: nn.Module) -> None:
    """BERT-style initialisation of the layers that learn from scratch (shared with the span corrector)."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
