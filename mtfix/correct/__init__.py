"""Correction: for each flagged span, replacements kept only where they beat leaving the text as it is. rewriter.py
is the default (SmolLM2 with LoRA adapters rewrites a marked span); span_decoder.py the `--conservative` seq2seq
decoder; base.py the options and traits both are judged by; guards.py what an edit must not do; rerank.py the
reranker's fit."""
