"""scripts/experiments/sweep_tagger.py end to end on a tiny data set and encoder: the exported draw is the one
`mtfix train
detector` trains on, each variant is trained and scored, the best is saved, and a saved tagger can be scored."""
import gzip
import json
import pickle
import random
import subprocess
import sys
from pathlib import Path

import datasets
from transformers import AutoTokenizer, BertConfig, BertModel

from mtfix.detect.train import TrainConfig, labelled_windows, minilm_dir, sample_mix

from ..detect.test_train import rows

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "experiments" / "sweep_tagger.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_sweep_tagger_exports_the_training_draw_trains_variants_and_scores_a_saved_tagger(tmp_path):
    data = tmp_path / "dataset"
    # the fusion head's dev sample takes up to 1,500 MLQE-PE dev segments: the 20 beyond them are scored
    mlqe = [{**row, "text": f"{row['text']} {i}"} for i, row in enumerate(rows(3040, "mlqe-pe")) if i % 2 == 0]
    dev = rows(20, "synthetic") + mlqe
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows(40, "synthetic")),
                          "dev": datasets.Dataset.from_list(dev)}).save_to_disk(str(data))
    windows = tmp_path / "windows.pkl.gz"
    done = run("--data", str(data), "--export", str(windows))
    assert done.returncode == 0, done.stderr
    with gzip.open(windows, "rb") as f:
        found = pickle.load(f)
    # the draw is train()'s: the same rows in the same order, and the generator state it goes on from
    rng = random.Random(13)
    drawn = sample_mix(datasets.load_from_disk(str(data))["train"], TrainConfig(data="", out="").mix, rng)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    assert [w.input_ids for w in found["train"]] == [w.input_ids for w in labelled_windows(drawn, tokenizer, 0.5)]
    assert found["state"] == rng.getstate()
    assert {name: len(w) for name, w in found["evals"].items()} == {"clean": 10, "unused": 20, "synthetic": 10}
    # --mix exports the draw of `mtfix train detector --mix`
    smaller = tmp_path / "smaller.pkl.gz"
    done = run("--data", str(data), "--export", str(smaller), "--mix", json.dumps({"synthetic": 5}))
    assert done.returncode == 0, done.stderr
    with gzip.open(smaller, "rb") as f:
        small = pickle.load(f)
    drawn = sample_mix(datasets.load_from_disk(str(data))["train"], {"synthetic": 5}, random.Random(13))
    assert small["mix"] == {"synthetic": 5} and len(drawn) == 5
    assert [w.input_ids for w in small["train"]] == [w.input_ids for w in labelled_windows(drawn, tokenizer, 0.5)]

    encoder = tmp_path / "encoder"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(encoder)
    best = tmp_path / "best"
    done = run("--windows", str(windows), "--encoder", str(encoder), "--save-best", str(best),
               "--variants", json.dumps([{"epochs": 1, "batch_size": 8}, {"epochs": 2, "batch_size": 8}]))
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 3 and table[1].startswith("| epochs 1, batch_size 8 | 5 |")
    assert table[2].startswith("| epochs 2, batch_size 8 | 10 |")
    assert (best / "model.safetensors").exists()

    done = run("--windows", str(windows), "--evaluate", str(best))
    assert done.returncode == 0, done.stderr
    cells = [c.strip() for c in done.stdout.splitlines()[-1].strip(" |").split("|")]
    assert cells[0] == str(best) and all(-1 <= float(c) <= 1 for c in cells[3:])


def test_sweep_tagger_refuses_bad_input_in_one_line(tmp_path):
    for args, message in [(["--export", str(tmp_path / "w.pkl.gz")], "--export needs --data"),
                          (["--windows", str(tmp_path / "missing.pkl.gz")], "give --windows FILE"),
                          (["--data", str(tmp_path), "--export", str(tmp_path / "w.pkl.gz"), "--mix", "{clean"],
                           "argument --mix: not a JSON object"),
                          (["--data", str(tmp_path), "--export", str(tmp_path / "w.pkl.gz"), "--mix", "[3]"],
                           "argument --mix: not a JSON object"),
                          ([], "give --windows FILE")]:
        done = run(*args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
