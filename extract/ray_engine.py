"""`--engine ray`: one Ray actor per GPU (or CPU slot), each a `LocalRunner` writing its own part.

Why actors and not tasks: an actor loads its models once and keeps them for every trailer it gets.
Each actor opens the store itself and writes `parts/<run>-<worker>/` under its own worker id, so
actors never share a writer (the store merges parts on read). Work is handed out in small chunks
of trailers to whichever actor is free (`ray.util.ActorPool`), which balances long and short
trailers. Ray is started locally (`ray.init()`) unless `address` names a cluster; a Ray instance
this function started is shut down at the end, also on error, and actors are killed explicitly, so
no leftover actor keeps holding CPUs (a Ray Data run here once hung exactly that way).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cinefeat.extract.runner import RunOptions
from cinefeat.extract.scan import Trailer
from cinefeat.extract.summary import Summary

CHUNK = 4


class _Worker:
    """Body of the actor class (wrapped by `ray.remote` at run time: ray is an optional extra)."""

    def __init__(
        self,
        store_path: str,
        names: list[str],
        overrides: dict[str, dict[str, Any]],
        options: RunOptions,
    ) -> None:
        from cinefeat.extract.extractors import EXTRACTORS
        from cinefeat.extract.runner import LocalRunner
        from cinefeat.store import FeatureStore

        store = FeatureStore.open(store_path)
        extractors = {n: EXTRACTORS.create(n, **overrides.get(n, {})) for n in names}
        self.runner = LocalRunner(store, extractors, options)
        self.runner.load()
        self.writer = store.writer(
            run=options.run_id, worker=options.worker_id, run_config=options.run_config
        )

    def run(self, trailers: list[tuple[str, str]]) -> Summary:
        return self.runner.run([Trailer(i, Path(p)) for i, p in trailers], writer=self.writer)

    def close(self) -> int:
        """Commit what is pending and close this actor's part."""
        committed = self.writer.commit()
        self.writer.close()
        return committed


def run_ray(
    store_path: Path,
    names: list[str],
    overrides: dict[str, dict[str, Any]],
    options: RunOptions,
    trailers: list[Trailer],
    address: str | None = None,
    actors: int | None = 1,
    cpus_per_actor: float = 1.0,
    init_options: dict | None = None,
    on_chunk: Any = None,
) -> Summary:
    import time

    import ray
    from ray.util import ActorPool

    from cinefeat.store.console import progress

    started = time.perf_counter()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, **(init_options or {})
        )
    handles = []
    bar = progress(total=len(trailers), unit="trailer", desc="extract (ray)")
    try:
        gpus = 1.0 if options.device.startswith("cuda") else 0.0
        remote = ray.remote(num_cpus=cpus_per_actor, num_gpus=gpus)(_Worker)
        if actors is None:  # --workers auto: one actor per GPU, else per `cpus_per_actor` CPUs
            resources = ray.cluster_resources()
            cpus = resources.get("CPU", 1.0)
            actors = int(resources.get("GPU", 0.0) if gpus else cpus / cpus_per_actor)
        for index in range(max(1, actors)):
            worker_options = replace(
                options,
                worker_id=f"{options.worker_id}-ray{index}",
                device="cuda" if gpus else options.device,
                workers=1,
            )
            handles.append(remote.remote(str(store_path), names, overrides, worker_options))
        pool = ActorPool(handles)
        chunks = [
            [(t.id, str(t.path)) for t in trailers[i : i + CHUNK]]
            for i in range(0, len(trailers), CHUNK)
        ]
        total = Summary()
        for summary in pool.map_unordered(lambda actor, chunk: actor.run.remote(chunk), chunks):
            total.merge(summary)
            bar.update(summary.ok + summary.failed + summary.skipped)
            if on_chunk is not None:
                on_chunk(summary)
        ray.get([handle.close.remote() for handle in handles])
        total.wall_s = time.perf_counter() - started
        return total
    finally:
        bar.close()
        for handle in handles:
            ray.kill(handle)
        if started_here:
            ray.shutdown()
