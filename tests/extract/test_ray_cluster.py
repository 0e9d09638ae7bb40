"""`--engine ray` on a simulated two-node cluster: a node lost mid-run loses nothing committed,
its unfinished trailer is redone by the surviving actor, and no trailer is written twice.

The cluster is Ray's own test cluster (`ray.cluster_utils.Cluster`: a head node and a worker
node, one CPU each, as separate raylets on this machine); the run connects to it by address, the
way `cinefeat extract --engine ray --ray-address ...` connects to a real one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cinefeat.store import FeatureStore

N_TRAILERS = 10


def ids_by_part(store: FeatureStore) -> dict[str, list[str]]:
    store.refresh()
    return {part.name: list(part.ids) for part in store.index.parts}


@pytest.fixture
def two_node_cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    # a lost node is noticed within about 2 s instead of Ray's default 30 s (the GCS's checks)
    fast_failure = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 3,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "object_store_memory": 80 * 1024**2,
            "include_dashboard": False,
            "_system_config": fast_failure,
        },
    )
    worker = cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def test_node_lost_mid_run_keeps_commits_and_writes_each_trailer_once(
    tmp_path: Path,
    cuts_video_maker,
    two_node_cluster,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    import ray

    from cinefeat.extract import ray_engine
    from cinefeat.extract.runner import RunOptions
    from cinefeat.extract.scan import scan
    from cinefeat.store.validate import validate

    cluster, worker_node = two_node_cluster
    root = tmp_path / "trailers"
    root.mkdir()
    colours = [["red", "blue"], ["green", "white"], ["yellow", "black"]]
    for i in range(N_TRAILERS):
        cuts_video_maker(root / f"t{i:02d}.mp4", colours[i % 3], seconds=0.8, audio=False)
    trailers = scan(root).trailers
    store_path = tmp_path / "store.zarr"
    FeatureStore.create(store_path)
    store = FeatureStore.open(store_path)
    monkeypatch.setattr(ray_engine, "CHUNK", 1)  # one trailer a chunk: both actors take turns

    placement: dict[str, str] = {}
    killed: dict[str, list[str]] = {}

    def on_chunk(summary) -> None:
        # kill the worker node once its actor has committed a trailer and holds the next one
        if killed:
            return
        lost = next(w for w, node in placement.items() if node == worker_node.node_id)
        committed = [ids for name, ids in ids_by_part(store).items() if lost in name]
        if committed and committed[0]:
            cluster.remove_node(worker_node)
            killed[lost] = list(committed[0])

    with caplog.at_level(logging.WARNING, logger="cinefeat.extract.ray_engine"):
        summary = ray_engine.run_ray(
            store_path,
            ["colorhist"],
            {},
            RunOptions(run_id="r", worker_id="w"),
            trailers,
            address=cluster.address,
            actors=2,
            on_chunk=on_chunk,
            on_start=placement.update,
        )
    assert not ray.is_initialized()  # connected by address, disconnected at the end
    # both nodes had an actor, and the worker node was lost mid-run
    assert set(placement.values()) == {cluster.head_node.node_id, worker_node.node_id}
    assert killed, "the worker node's actor never committed a trailer"
    ((lost, committed_before),) = killed.items()
    # the lost actor's chunk in flight went to the survivor, and every trailer was done once
    assert any(lost in r.getMessage() and "died" in r.getMessage() for r in caplog.records)
    assert summary.failed == 0, summary.failures
    assert summary.ok + summary.skipped == N_TRAILERS
    parts = ids_by_part(store)
    assert len(parts) == 2  # one part per actor, the dead actor's included
    dead_part = next(ids for name, ids in parts.items() if lost in name)
    assert set(committed_before) <= set(dead_part)  # what it committed stayed
    written = Counter(i for ids in parts.values() for i in ids)
    assert written == Counter({t.id: 1 for t in trailers})  # no trailer twice
    assert set(store.lengths("colorhist").values()) == {2}  # two shots in every trailer
    report = validate(FeatureStore.open(store_path))
    assert report.ok, [str(p) for p in report.problems]
    assert report.trailers == N_TRAILERS

    # a rerun on the node that is left finds nothing to do and writes nothing
    again = ray_engine.run_ray(
        store_path,
        ["colorhist"],
        {},
        RunOptions(run_id="r2", worker_id="w"),
        trailers,
        address=cluster.address,
        actors=1,
    )
    assert (again.ok, again.failed, again.skipped) == (0, 0, N_TRAILERS)
    assert Counter(i for ids in ids_by_part(store).values() for i in ids) == written


class _Ref:
    """An `ObjectRef`: hashable by identity, holding a task's value or error."""

    def __init__(self, value) -> None:
        self.value = value


class _FakeRay:
    """The three pieces of Ray `ray_engine._dispatch` uses, with Ray's semantics: `wait` returns
    (ready, not ready) refs (`ray.wait`), `get` returns a task's value or raises the real
    `ray.exceptions.RayActorError` for a task whose actor died (`ray.get`)."""

    def __init__(self) -> None:
        import ray.exceptions

        self.exceptions = ray.exceptions

    def wait(self, refs: list, num_returns: int = 1) -> tuple[list, list]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: _Ref):
        if isinstance(ref.value, BaseException):
            raise ref.value
        return ref.value


class _FakeActor:
    """`actor.run.remote(chunk)`: a finished task's value, or the error of a dead actor."""

    def __init__(self, dies_after: int | None = None) -> None:
        self.dies_after = dies_after
        self.ran: list[list[tuple[str, str]]] = []
        self.run = self

    def remote(self, chunk: list[tuple[str, str]]):
        import ray.exceptions

        from cinefeat.extract.summary import Summary

        if self.dies_after is not None and len(self.ran) >= self.dies_after:
            return _Ref(ray.exceptions.RayActorError(error_msg="the node died"))
        self.ran.append(chunk)
        return _Ref(Summary(ok=len(chunk)))


def test_dispatch_when_every_actor_dies_reports_the_rest_failed_for_a_rerun() -> None:
    pytest.importorskip("ray")
    from cinefeat.extract.ray_engine import _dispatch
    from cinefeat.extract.summary import Summary

    chunks = [[(f"t{i}", f"/v/t{i}.mp4")] for i in range(5)]
    actors = {"a": _FakeActor(dies_after=1), "b": _FakeActor(dies_after=2)}
    total = Summary()
    alive = _dispatch(_FakeRay(), actors, chunks, total.merge)
    assert alive == []
    done = [chunk for actor in actors.values() for chunk in actor.ran]
    assert total.ok == len(done) == 3  # each chunk ran once, on whichever actor was alive
    assert total.failed == 2
    assert {i for i, stage, _ in total.failures} == {c[0][0] for c in chunks if c not in done}
    assert {stage for _, stage, _ in total.failures} == {"worker"}
