"""Train the class head (mtfix.detect.classes) on gold spans of the training split, and measure it on dev. Its code
lives in mtfix.training.classes."""
from mtfix.training.classes import main

if __name__ == "__main__":
    raise SystemExit(main())
