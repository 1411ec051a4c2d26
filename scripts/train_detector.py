"""Train the artifact tagger (the same as `mtfix train detector`); the full run lives here, not in the tests. Its
code lives in mtfix.training.tagger."""
from mtfix.training.tagger import main

if __name__ == "__main__":
    raise SystemExit(main())
