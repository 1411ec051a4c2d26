"""Training and calibration of every model mtfix ships (`mtfix train WHAT`): tagger.py, fusion.py (on the evidence
of evidence.py), classes.py, rewriter.py, span_decoder.py; common.py and calibration.py what they share. Inference
never imports this package."""
