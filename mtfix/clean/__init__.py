"""`mtfix clean`: a corpus through the detector (and the corrector), resumable, nothing lost.

Records are read as a stream and cut into chunks of ``chunk_size``; each chunk's results are committed to an
SQLite journal (OUT.journal) in one transaction. A rerun of the same command skips the chunks the journal has,
so a run killed at any moment continues where it stopped. When every chunk is in, the outputs are written
from the journal in input order under temporary names and renamed into place; then the journal is removed.
settings.py holds what a run derives from its settings (mtfix.settings.CleanSettings), journal.py the checkpoint,
runner.py the work and its engines, outputs.py what is written, run.py the whole run.
"""
from mtfix.clean.journal import JOURNAL_VERSION, ChunkResult, Journal, _take_lock
from mtfix.clean.outputs import filtered_path, side_paths
from mtfix.clean.run import clean
from mtfix.clean.runner import Cleaner, RayCleaner, WorkerDied, check_ray_address, chunk_jobs, chunks
from mtfix.clean.settings import CleanConfig, check_workers, most_workers

__all__ = ["JOURNAL_VERSION", "ChunkResult", "CleanConfig", "Cleaner", "Journal", "RayCleaner",
           "WorkerDied", "_take_lock", "check_ray_address", "check_workers", "chunk_jobs", "chunks", "clean",
           "filtered_path", "most_workers", "side_paths"]
