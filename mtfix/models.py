"""The shipped models: where they live, and the initialiser the models that learn from scratch share."""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

CHECKOUT = Path(__file__).resolve().parents[1] / "models"  # a source checkout's (or an editable install's)


def installed_models() -> Path | None:
    """The models a wheel carries (installed under share/mtfix/models), if this installation has them."""
    from importlib import metadata

    try:
        files = metadata.distribution("mtfix").files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.as_posix().endswith("share/mtfix/models/README.md"):
            return Path(str(f.locate())).parent
    return None


def models_root() -> Path:
    """Where the shipped models are: $MTFIX_MODELS, else a checkout's models/ beside the package, else those the
    installed wheel carries."""
    if os.environ.get("MTFIX_MODELS"):
        return Path(os.environ["MTFIX_MODELS"])
    if (CHECKOUT / "detector" / "config.json").exists():
        return CHECKOUT
    return installed_models() or CHECKOUT


def looked_in() -> str:
    """Where models were looked for, for error messages."""
    places = [f"$MTFIX_MODELS ({os.environ['MTFIX_MODELS']})"] if os.environ.get("MTFIX_MODELS") else []
    places.append(str(CHECKOUT))
    installed = installed_models()
    places.append(str(installed) if installed else "the installed package (it carries none)")
    return ", ".join(places)


MODELS = models_root()


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
