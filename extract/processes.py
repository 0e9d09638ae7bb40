"""`--workers N` on one machine: N worker processes, each a `LocalRunner` writing its own part.

Why processes: a trailer's decode, colour conversion and scene detection hold the GIL for most
of their Python-level steps, so decoding threads in one process stop scaling past about one
core; with a cheap model (a GPU, a colour histogram) the CPU side is the whole cost. Each process
is what a Ray actor is (`ray_engine.py`) without Ray: it loads the models once, keeps one store
writer (`parts/<run>-<worker>-p<pid>/`, its own lease), and takes trailers one at a time from a
`concurrent.futures.ProcessPoolExecutor`, which hands the next trailer to whichever process is
free (no scheduler of ours). Processes are started with `spawn`: the parent may hold threads
(zarr's event loop, torch's pools) that `fork` would copy in a broken state.

A process that dies (killed, out of memory) loses only the trailer it was on: everything it
committed stays in its part (a `stale` lease, readable, merged by compaction) and a rerun
recomputes exactly the trailers without a record. The pool then refuses further work
(`BrokenProcessPool`): the trailers not yet handed out are reported as failed at `worker`, so the
rerun's message names them.

Memory: each process holds its models and one trailer's decoder (the bound in `runner.py`), so
`auto` takes the smaller of the usable cores and what memory allows at that bound.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from cinefeat.extract.runner import RunOptions
from cinefeat.extract.scan import Trailer
from cinefeat.extract.summary import Summary

log = logging.getLogger(__name__)

# a worker's resident memory besides its models, at the runner.py bound (1080p, defaults)
WORKER_BYTES = 300 << 20
# with I3D clips in the queue (runner.py: 1 GB with I3D)
CLIP_WORKER_BYTES = 1 << 30
MEMORY_SHARE = 0.8  # leave a fifth of the available memory to the page cache and the parent

_worker: dict[str, Any] = {}  # this process's runner and writer (set by `_start`)


def usable_cores() -> int:
    """Cores this process may run on (a cgroup or `taskset` limit, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available for new processes (`MemAvailable`), or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def auto_workers(
    model_bytes: int = 0,
    clips: bool = False,
    cores: int | None = None,
    memory: int | None = None,
) -> int:
    """`--workers auto`: one process per usable core, fewer when memory (each worker's models plus
    the runner.py bound) would not hold them all; at least 1."""
    cores = usable_cores() if cores is None else cores
    memory = available_memory() if memory is None else memory
    n = max(1, cores)
    if memory is not None:
        per_worker = model_bytes + (CLIP_WORKER_BYTES if clips else WORKER_BYTES)
        n = min(n, max(1, int(memory * MEMORY_SHARE // per_worker)))
    return n


def decoder_threads(workers: int, cores: int | None = None) -> int:
    """FFmpeg decoder threads per worker process: the usable cores shared out (at least 1).

    Why: left to itself FFmpeg starts one decoder thread per core of the machine in every
    process, so N workers on N cores run N x N threads, each holding a frame of its own (frame
    threading: 6 MB a thread at 1080p), and switch between them for no gain: the processes
    already keep every core busy."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def parse_workers(value: str | int) -> int | None:
    """`--workers`: a count >= 1, or None for `auto`."""
    if isinstance(value, int) or str(value).strip().lower() != "auto":
        count = int(value)
        if count < 1:
            raise ValueError(f"--workers must be >= 1 or auto, got {value}")
        return count
    return None


def _start(store_path: str, names: list[str], overrides: dict, options: RunOptions) -> None:
    """Pool initializer: open the store, build and load the models, open this process's part."""
    import multiprocessing.util

    from cinefeat.extract.extractors import EXTRACTORS
    from cinefeat.extract.runner import LocalRunner
    from cinefeat.store import FeatureStore

    store = FeatureStore.open(store_path)
    extractors = {n: EXTRACTORS.create(n, **overrides.get(n, {})) for n in names}
    options = replace(options, worker_id=f"{options.worker_id}-p{os.getpid()}", workers=1)
    runner = LocalRunner(store, extractors, options)
    runner.load()
    writer = store.writer(
        run=options.run_id, worker=options.worker_id, run_config=options.run_config
    )
    _worker.update(runner=runner, writer=writer)
    # the pool's processes end through multiprocessing's exit path: close the part there
    multiprocessing.util.Finalize(None, writer.close, exitpriority=10)


def _extract(trailer_id: str, path: str) -> Summary:
    return _worker["runner"].run([Trailer(trailer_id, Path(path))], writer=_worker["writer"])


def run_processes(
    store_path: Path,
    names: list[str],
    overrides: dict[str, dict[str, Any]],
    options: RunOptions,
    trailers: list[Trailer],
    workers: int,
    on_trailer: Any = None,
) -> Summary:
    """Extract `trailers` with `workers` processes; the merged summary of all of them."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from cinefeat.extract.plan import pending_features
    from cinefeat.store import FeatureStore

    started = time.perf_counter()
    # done trailers are skipped here, so a rerun with nothing left starts no process (and no part)
    store = FeatureStore.open(store_path)
    todo = [t for t in trailers if pending_features(store, t.id, names, options.retry_failed)]
    total = Summary(skipped=len(trailers) - len(todo))
    if on_trailer is not None and total.skipped:
        on_trailer(total)
    trailers = todo
    if not trailers:
        total.wall_s = time.perf_counter() - started
        return total
    processes = max(1, min(workers, len(trailers)))
    if not options.decoder_threads:
        options = replace(options, decoder_threads=decoder_threads(processes))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=context,
        initializer=_start,
        initargs=(str(store_path), names, overrides, options),
    ) as pool:
        futures = {pool.submit(_extract, t.id, str(t.path)): t for t in trailers}
        for future in as_completed(futures):
            trailer = futures[future]
            try:
                summary = future.result()
            except BrokenProcessPool as error:
                summary = Summary(failed=1)
                summary.failures.append((trailer.id, "worker", f"a worker process died: {error}"))
            total.merge(summary)
            if on_trailer is not None:
                on_trailer(summary)
    total.wall_s = time.perf_counter() - started
    return total
