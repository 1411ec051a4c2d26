"""Train the LM span rewriter: LoRA adapters on SmolLM2 (the same as `mtfix train rewriter`). Its code lives in
mtfix.training.rewriter."""
from mtfix.training.rewriter import main

if __name__ == "__main__":
    raise SystemExit(main())
