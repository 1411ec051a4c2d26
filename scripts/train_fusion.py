"""Train the fusion head that joins the tagger with language-model evidence (the same as `mtfix train fusion`). Its
code lives in mtfix.training.fusion."""
from mtfix.training.fusion import main

if __name__ == "__main__":
    raise SystemExit(main())
