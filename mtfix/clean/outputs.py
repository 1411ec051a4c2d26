"""What a `mtfix clean` run writes: OUT, OUT.rejects.jsonl, OUT.filtered and the summary, from the input
joined with the checkpoint in input order, each whole or not at all; and the checks that nothing else is touched."""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

from mtfix.clean.corpus import MARKER, Record, Writer, input_schema, jsonable
from mtfix.clean.journal import COUNTS, DENSITY_BINS, MT_BINS, Journal, mt_bin
from mtfix.clean.runner import chunks
from mtfix.clean.settings import CleanConfig
from mtfix.detect.document import Tally, rounded
from mtfix.errors import InputError
from mtfix.text.outputs import is_special, same_file


def output_row(record: Record, added: dict[str, Any], config: CleanConfig) -> dict[str, Any]:
    """The record's own fields (plain text: its line and text) with mtfix's added; policy fix puts the fixed
    text in the text field and keeps the original in original_TEXTFIELD."""
    text_field = config.text_field
    assert record.text is not None
    row: dict[str, Any] = dict(record.fields) if record.fields is not None else \
        {"line": record.line, text_field: record.text}
    row.update(added)
    if config.policy == "fix" and added.get("fixed") is not None:
        row[f"original_{text_field}"] = record.text
        row[text_field] = added["fixed"]
    return row


def reject_row(record: Record) -> dict[str, Any]:
    """A rejected record with its line, reason and everything read of it (nothing lost: the rejects file and
    OUT together hold the whole input)."""
    row: dict[str, Any] = {"line": record.line, "record": record.index, "reason": record.error}
    if record.fields is not None:
        row["fields"] = jsonable(record.fields)
    if record.raw is not None:
        row.update(record.raw)
    return row


def whole_document(config: CleanConfig, journal: Journal) -> float | None:
    """The MT probability of a plain-text input read as one document, from every chunk's tally in the journal
    (None where each record is its own document, or the detector has no document head)."""
    if config.reads_alone():
        return None
    head = config.document_head()
    if head is None:
        return None
    found = [journal.get(chunk) for chunk in journal.ids()]
    return rounded(head.probability(sum((Tally.from_json(f.stats["tally"]) for f in found
                                         if f is not None and isinstance(f.stats.get("tally"), dict)), Tally())))


def merge_stats(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"records": 0, "written": 0, "words": 0, "flagged_words": 0, "rejected": 0,
                             "filtered": 0, "edits": 0, "classes": Counter(), "density": [0] * (len(DENSITY_BINS) - 1),
                             "mt_probability": [0] * (len(MT_BINS) - 1)}
    for part in parts:
        for key in COUNTS:
            total[key] += part[key]
        total["classes"].update(part["classes"])
        total["density"] = [a + b for a, b in zip(total["density"], part["density"])]
        found = part.get("mt_probability") or [0] * (len(MT_BINS) - 1)
        total["mt_probability"] = [a + b for a, b in zip(total["mt_probability"], found)]
    total["classes"] = dict(sorted(total["classes"].items(), key=lambda kv: (-kv[1], kv[0])))
    total["flags_per_100_words"] = round(100.0 * total["flagged_words"] / max(1, total["words"]), 3)
    total["density_bins"] = [f"{lo:g}-{hi:g}" if hi != float("inf") else f"{lo:g}+"
                             for lo, hi in zip(DENSITY_BINS, DENSITY_BINS[1:])]
    total["mt_probability_bins"] = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(MT_BINS, MT_BINS[1:])]
    return total


def remove_temporaries(config: CleanConfig) -> None:
    """Remove the temporary files (and dataset folders) an earlier run of this OUT left when it was killed while
    writing its outputs: each output's own, named `.NAME.*.part` beside it (mtfix.text.outputs.temporary_beside)."""
    import shutil

    outputs = [config.output, *side_paths(config)]
    folder = Path(os.path.abspath(config.output)).parent
    names = "|".join(re.escape(os.path.basename(p)) for p in outputs)
    ours = re.compile(rf"\.({names})\.[a-z0-9_]{{8}}\.part")  # tempfile's names: eight random characters
    for left in folder.iterdir():
        if not ours.fullmatch(left.name):
            continue
        if left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def side_paths(config: CleanConfig) -> list[str]:
    """Every file a run writes beside OUT."""
    out = config.output
    paths = [f"{out}.rejects.jsonl", f"{out}.summary.json", f"{out}.summary.html", f"{out}.journal",
             f"{out}.journal-wal", f"{out}.journal-shm", f"{out}.lock"]
    if config.policy == "filter":
        paths.append(filtered_path(out))
    return paths


def check_outputs(config: CleanConfig, out_format: str) -> None:
    """OUT and every file beside it: never the input, never a device or FIFO (clean writes several files and
    renames them into place), never a folder mtfix did not write."""
    outputs = [config.output, *side_paths(config)]
    for path in outputs:
        if same_file(path, config.input) or (Path(config.input).is_dir() and
                                              Path(path).resolve().is_relative_to(Path(config.input).resolve())):
            raise InputError(f"-o {config.output} would write {path}, which is the input (or inside it); the "
                             "input is never modified: write elsewhere")
        if is_special(path):
            raise InputError(f"{path} is a device or pipe, not a file: mtfix clean writes OUT and files beside it "
                             "(rejects, summary), so give a path in a folder")
    for path in outputs[1:]:
        if Path(path).is_dir():
            raise InputError(f"{path} is a folder; mtfix clean writes a file there: move it, or give another -o")
    out = Path(config.output)
    if out.is_dir() and not (out_format == "dataset" and (out / MARKER).exists()):
        why = "a dataset folder mtfix did not write" if out_format == "dataset" else "a folder"
        raise InputError(f"-o {config.output} is {why}; mtfix never replaces a folder it did not write: give a new "
                         "name" + ("" if out_format == "dataset" else " for the output file"))
    if out.is_dir():
        if Path(config.input).resolve().is_relative_to(out.resolve()):
            raise InputError(f"the input {config.input} is inside -o {config.output}, which a dataset output "
                             "replaces whole: move the input out of it, or give another -o")
        foreign = foreign_files(out)
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise InputError(f"-o {config.output} holds {foreign[0]}{more}, which mtfix did not write; a dataset "
                             "output replaces the folder whole: move them, or give another -o")
    if out.exists() and not out.is_dir() and out_format == "dataset":
        raise InputError(f"-o {config.output} is a file; a dataset output is a folder: give a new name")
    if out_format == "text" and config.policy == "annotate":
        raise InputError(f"-o {config.output} is plain text, which cannot hold the flagged spans: give an OUT "
                         "ending in .jsonl (or --output-format jsonl), or --policy fix to write the fixed text")


SAVED = re.compile(r"data-[0-9]+-of-[0-9]+\.arrow|dataset_info\.json|state\.json")  # what save_to_disk writes


def foreign_files(folder: Path) -> list[str]:
    """What a dataset folder holds besides the files mtfix (through datasets' save_to_disk) writes there."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if not (p.parent == folder and p.is_file() and not p.is_symlink()
                          and (p.name == MARKER or SAVED.fullmatch(p.name))))


def one_line_records(records: Iterator[Record]) -> Iterator[Record]:
    """For plain-text output: a text with a line break would become two lines; such records are rejected."""
    for record in records:
        if record.text is not None and any(c in record.text for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
            yield Record(record.index, record.line, None, "the text holds a line break, which plain-text output "
                         "cannot keep on one line (write CSV or JSONL)", record.fields, record.raw)
        else:
            yield record


def write_outputs(config: CleanConfig, journal: Journal, records: Iterable[Record], out_format: str,
                  extra: dict[str, Any]) -> dict[str, Any]:
    """OUT, OUT.rejects.jsonl, OUT.filtered (policy filter) and the summary, from the input joined with the
    journal in input order; each written whole under a temporary name, then renamed. In plain-text output
    under policy fix, a rejected record leaves an empty line, so that lines stay one to one with the input."""
    schema = input_schema(config.input, config.input_format) if out_format in ("parquet", "dataset") and \
        config.input_format == out_format else None
    writers = {"out": Writer(config.output, out_format, config.text_field, schema)}
    if config.policy == "filter":
        writers["filtered"] = Writer(filtered_path(config.output), out_format, config.text_field, schema)
    rejects = Writer(f"{config.output}.rejects.jsonl", "jsonl")
    blank_lines = out_format == "text" and config.policy == "fix"
    parts = []
    n_chunks = 0
    document = whole_document(config, journal)  # a plain text read as one document: its MT probability
    routed: Counter = Counter()
    try:
        for chunk, batch in chunks(records, config.chunk_size):
            n_chunks = chunk + 1
            result = journal.get(chunk)
            if result is None or len(result.found) != len(batch):
                raise InputError(f"the checkpoint {journal.path} does not match the input at chunk {chunk}; rerun "
                                 "with --restart")
            for record, found in zip(batch, result.found):
                if found is None or record.text is None:
                    rejects.write(reject_row(record))
                    if blank_lines:
                        writers["out"].write({config.text_field: ""})
                    continue
                route, added = found
                if document is not None:
                    added = {**added, "mt_probability": document}
                    limit = config.max_mt_probability
                    if config.policy == "filter" and limit is not None and document > limit:
                        route = "filtered"
                routed[route] += 1
                writers[route].write(output_row(record, added, config))
            parts.append(result.stats)
        extra_ids = [i for i in journal.ids() if i >= n_chunks]
        if extra_ids:
            raise InputError(f"the checkpoint {journal.path} holds {len(extra_ids)} chunk(s) beyond the input's "
                             f"{n_chunks}; it was not written by this run: rerun with --restart")
        summary = merge_stats(parts)
        summary.update(written=routed["out"], filtered=routed["filtered"])
        if document is not None:
            summary["mt_probability"][mt_bin(document)] += 1
            summary["document_mt_probability"] = document
        summary.update(input=config.input, output=config.output, policy=config.policy, format=out_format, **extra)
        for w in (*writers.values(), rejects):
            w.commit()
    except BaseException:
        for w in (*writers.values(), rejects):
            w.abandon()
        raise
    from mtfix.clean.report import write_summary

    write_summary(summary, Path(f"{config.output}.summary.json"), Path(f"{config.output}.summary.html"))
    return summary


def filtered_path(output: str) -> str:
    """OUT.filtered, keeping OUT's extension so that it reads as the same format (out.jsonl -> out.filtered.jsonl)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.filtered{p.suffix}")) if p.suffix else f"{output}.filtered"
