"""`--engine ray`: one Ray actor per GPU (or CPU slot), each a `LocalRunner` writing its own part.

Why actors and not tasks: an actor loads its models once and keeps them for every trailer it gets.
Each actor opens the store itself and writes `parts/<run>-<worker>/` under its own worker id, so
actors never share a writer (the store merges parts on read). Work is handed out in small chunks
of trailers to whichever actor is free (`ray.wait` on the chunks in flight), which balances long
and short trailers. Ray is started locally (`ray.init()`) unless `address` names a cluster
(`--ray-address`); a Ray instance this function started is shut down at the end, also on error,
and actors are killed explicitly, so no leftover actor keeps holding CPUs (a Ray Data run here
once hung exactly that way).

Faults: an actor that dies (its node lost, killed, out of memory) keeps what it committed: its
part stays (a `stale` lease, readable, merged by compaction). Its chunk in flight goes back to the
queue and is given to a surviving actor, whose runner refreshes the store first and so skips
every trailer the dead one committed (no trailer is written twice). Ray schedules the actors;
this loop only hands chunks to the idle ones. When no actor is left, the chunks not done are
reported failed at stage `worker`, and a rerun computes exactly them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cinefeat.extract.runner import RunOptions
from cinefeat.extract.scan import Trailer
from cinefeat.extract.summary import Summary

log = logging.getLogger(__name__)

CHUNK = 4
PLACEMENT_WAIT_S = 120.0  # how long to wait for the actors to start before dispatching


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

    def node_id(self) -> str:
        """The Ray node this actor runs on (its part is written from there)."""
        import ray

        return ray.get_runtime_context().get_node_id()

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
    on_chunk: Callable[[Summary], None] | None = None,
    on_start: Callable[[dict[str, str]], None] | None = None,
) -> Summary:
    """Extract `trailers` with `actors` Ray actors (None: as many as the cluster holds).

    `on_chunk` gets each chunk's summary; `on_start` gets {actor's worker id: Ray node id} once
    the actors are up (where each part is written)."""
    import time

    import ray

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
        ids = []
        for index in range(max(1, actors)):
            worker_options = replace(
                options,
                worker_id=f"{options.worker_id}-ray{index}",
                device="cuda" if gpus else options.device,
                workers=1,
            )
            ids.append(worker_options.worker_id)
            handles.append(remote.remote(str(store_path), names, overrides, worker_options))
        # an actor whose models fail to load raises here, before any work: a start failure,
        # not a fault; one the cluster has no room for yet (autoscaling) just is not listed
        refs = [h.node_id.remote() for h in handles]
        placed, _ = ray.wait(refs, num_returns=len(refs), timeout=PLACEMENT_WAIT_S)
        placement = {i: ray.get(ref) for i, ref in zip(ids, refs, strict=True) if ref in placed}
        log.info(
            "ray: %d actors on %d nodes (%d waiting for room)",
            len(placement),
            len(set(placement.values())),
            len(handles) - len(placement),
        )
        if on_start is not None:
            on_start(placement)
        chunks = [
            [(t.id, str(t.path)) for t in trailers[i : i + CHUNK]]
            for i in range(0, len(trailers), CHUNK)
        ]
        total = Summary()

        def done(summary: Summary) -> None:
            total.merge(summary)
            bar.update(summary.ok + summary.failed + summary.skipped)
            if on_chunk is not None:
                on_chunk(summary)

        alive = _dispatch(ray, dict(zip(ids, handles, strict=True)), chunks, done)
        ray.get([handle.close.remote() for handle in alive])
        total.wall_s = time.perf_counter() - started
        return total
    finally:
        bar.close()
        for handle in handles:
            ray.kill(handle)
        if started_here:
            ray.shutdown()


def _dispatch(
    ray: Any,
    actors: dict[str, Any],
    chunks: list[list[tuple[str, str]]],
    done: Callable[[Summary], None],
) -> list[Any]:
    """Run every chunk on whichever actor is idle; a chunk whose actor died goes back to the
    queue for the others. Returns the actors still alive."""
    queue = deque(chunks)
    idle = list(actors.items())
    running: dict[Any, tuple[str, Any, list[tuple[str, str]]]] = {}
    alive = dict(actors)
    while queue or running:
        while queue and idle:
            name, actor = idle.pop()
            chunk = queue.popleft()
            running[actor.run.remote(chunk)] = (name, actor, chunk)
        if not running:  # every actor died: what is left fails here, a rerun does it
            lost = Summary(failed=sum(len(c) for c in queue))
            for chunk in queue:
                lost.failures += [(i, "worker", "every Ray actor died") for i, _ in chunk]
            queue.clear()
            done(lost)
            break
        (ready,), _ = ray.wait(list(running), num_returns=1)
        name, actor, chunk = running.pop(ready)
        try:
            summary = ray.get(ready)
        except ray.exceptions.RayActorError as error:
            log.warning("ray: actor %s died (%s); its chunk goes to the others", name, error)
            alive.pop(name, None)
            queue.appendleft(chunk)
            continue
        idle.append((name, actor))
        while queue and idle:  # refill before reporting, so the callback sees the actors busy
            next_name, next_actor = idle.pop()
            next_chunk = queue.popleft()
            running[next_actor.run.remote(next_chunk)] = (next_name, next_actor, next_chunk)
        done(summary)
    return list(alive.values())
