"""Train the span corrector (the same as `mtfix train corrector`); the full run lives here, not in the tests. Its
code lives in mtfix.training.span_decoder."""
from mtfix.training.span_decoder import main

if __name__ == "__main__":
    raise SystemExit(main())
