"""A whole `mtfix clean` run: checks before anything is written, the checkpoint, the engine, the outputs."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

from mtfix.clean.corpus import Record, check_columns, check_input, fingerprint, guess_format, read_records
from mtfix.clean.journal import JOURNAL_VERSION, ChunkResult, Journal
from mtfix.clean.outputs import check_outputs, one_line_records, remove_temporaries, write_outputs
from mtfix.clean.runner import Job, check_ray_address, chunk_jobs, chunks, run_local, run_ray
from mtfix.clean.settings import CleanConfig, check_workers, output_format


def clean(config: CleanConfig, progress: Callable[[int, int], None] | None = None,
          warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the cleaning; returns the summary. ``progress(records, words)`` after each chunk."""
    check_input(config.input)
    in_format = guess_format(config.input, config.input_format)
    config = replace(config, input_format=in_format)
    out_format = output_format(config)
    check_outputs(config, out_format)
    check_columns(config.input, in_format, config.owned())
    if config.engine == "ray" and config.ray_address not in (None, "local"):
        check_ray_address(config.ray_address)  # a cluster's size is the cluster's to say
    else:
        check_workers(config.workers, config.fast)
    meta = {"version": JOURNAL_VERSION, "input": str(Path(config.input).resolve()),
            "input_fingerprint": fingerprint(config.input), "settings": config.settings()}

    def records() -> Iterator[Record]:
        found = read_records(config.input, in_format, config.text_field, config.owned())
        return one_line_records(found) if out_format == "text" else found

    journal = Journal(Path(f"{config.output}.journal"), meta, config.restart, warn)
    try:
        remove_temporaries(config)  # a run killed while writing left them; this run holds OUT.lock
        done = journal.done()
        started = time.time()

        def put(result: ChunkResult) -> None:
            journal.put(result)
            if progress:
                progress(result.stats["records"], result.stats["words"])

        def pending() -> Iterator[Job]:
            for chunk, batch, before in chunk_jobs(chunks(records(), config.chunk_size), not config.reads_alone()):
                if chunk in done:
                    if progress:
                        progress(len(batch), sum(len(r.text.split()) for r in batch if r.text))
                    continue
                yield chunk, batch, before

        if config.engine == "ray":
            run_ray(config, pending(), put)
        else:
            run_local(config, pending(), put)
        summary = write_outputs(config, journal, records(), out_format, {"seconds": round(time.time() - started, 2),
                                                                         "resumed_chunks": len(done)})
    except BaseException:
        journal.close()
        raise
    journal.remove()
    return summary
