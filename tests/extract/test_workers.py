"""`--workers N|auto` on one machine: N processes, each writing its own part, every trailer once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cinefeat.extract.processes import auto_workers, parse_workers, run_processes
from cinefeat.extract.runner import RunOptions
from cinefeat.extract.scan import Trailer
from cinefeat.store import FeatureStore

GB = 1 << 30


def test_auto_workers_one_per_core_unless_memory_is_short() -> None:
    assert auto_workers(cores=16, memory=64 * GB) == 16
    # 0.8 of 1 GB at 300 MB a worker: 2; with 500 MB of models each: 1
    assert auto_workers(cores=16, memory=GB) == 2
    assert auto_workers(model_bytes=500 << 20, cores=16, memory=GB) == 1
    # I3D clips: 1 GB a worker
    assert auto_workers(clips=True, cores=16, memory=8 * GB) == 6
    assert auto_workers(cores=4, memory=None) == 4
    assert auto_workers(cores=0, memory=0) == 1


@pytest.mark.parametrize(("value", "count"), [("auto", None), ("AUTO", None), ("3", 3), (2, 2)])
def test_workers_option_values(value, count) -> None:
    assert parse_workers(value) == count


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_workers_option_refuses_bad_values(value) -> None:
    with pytest.raises(ValueError):
        parse_workers(value)


def ids_by_part(store: FeatureStore) -> dict[str, list[str]]:
    store.refresh()
    return {part.name: list(part.ids) for part in store.index.parts}


@pytest.mark.slow
def test_two_processes_write_two_parts_each_trailer_once(tmp_path: Path, cuts_video_maker) -> None:
    colours = [["red", "blue"], ["green", "white"], ["yellow", "black"], ["cyan", "red"]]
    trailers = []
    for i, pair in enumerate(colours * 2):
        path = cuts_video_maker(tmp_path / f"t{i}.mp4", pair, seconds=0.6)
        trailers.append(Trailer(f"t{i}", path))
    store_path = tmp_path / "store.zarr"
    FeatureStore.create(store_path)
    options = RunOptions(run_id="r", worker_id="w")
    summary = run_processes(store_path, ["colorhist"], {}, options, trailers, workers=2)
    assert (summary.ok, summary.failed) == (8, 0), summary.failures
    store = FeatureStore.open(store_path)
    parts = ids_by_part(store)
    assert len(parts) == 2 and all("-p" in name for name in parts)  # one part per process
    written = Counter(i for ids in parts.values() for i in ids)
    assert written == Counter({t.id: 1 for t in trailers})  # every trailer, once
    assert all(len(store.get(t.id, "colorhist")) == 2 for t in trailers)  # two shots each
    again = run_processes(store_path, ["colorhist"], {}, options, trailers, workers=2)
    assert (again.ok, again.skipped) == (0, 8)
    assert ids_by_part(store) == parts  # nothing to do: no process, no new part


@pytest.mark.slow
def test_cli_workers_two_and_auto_give_one_record_per_trailer(
    tmp_path: Path, cuts_video_maker
) -> None:
    import json

    from click.testing import CliRunner

    from cinefeat.cli.main import main

    root = tmp_path / "trailers"
    root.mkdir()
    for i, pair in enumerate([["red", "blue"], ["green", "white"], ["black", "yellow"]]):
        cuts_video_maker(root / f"t{i}.mp4", pair, seconds=0.6)
    (root / "text.mp4").write_text("not a video\n" * 50)
    store_path = tmp_path / "store"

    def invoke(*args: str):
        command = ["--quiet", "extract", str(root), "--store", str(store_path), *args]
        return CliRunner().invoke(main, command, catch_exceptions=False)

    result = invoke("--features", "colorhist", "--workers", "2", "--json")
    assert result.exit_code == 3, result.output  # one trailer failed (EXIT_SOME_FAILED)
    summary = json.loads(result.output[result.output.index("{") :])
    assert (summary["ok"], summary["failed"]) == (3, 1)
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == ["t0", "t1", "t2"] and store.ids(status="failed") == ["text"]
    assert Counter(i for ids in ids_by_part(store).values() for i in ids) == Counter(
        {"t0": 1, "t1": 1, "t2": 1, "text": 1}
    )
    result = invoke("--features", "colorhist", "--workers", "auto", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["skipped"] == 4
    assert invoke("--features", "colorhist", "--workers", "0").exit_code == 2


def test_decoder_threads_share_the_cores_among_the_workers() -> None:
    from cinefeat.extract.processes import decoder_threads

    assert decoder_threads(1, cores=16) == 16
    assert decoder_threads(4, cores=16) == 4
    assert decoder_threads(3, cores=16) == 5
    assert decoder_threads(32, cores=16) == 1


def test_the_runner_gives_the_decoder_its_thread_count(
    tmp_path: Path, cuts_video_maker, memory_store, record_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cinefeat.extract.decode as decode
    from cinefeat.extract.extractors.colorhist import ColorHistExtractor
    from cinefeat.extract.runner import LocalRunner

    opened = []
    open_video = decode.open_video

    def recording(*args, **kwargs):
        container = open_video(*args, **kwargs)
        opened.append(container.streams.video[0])  # its settings stay readable after closing
        return container

    monkeypatch.setattr(decode, "open_video", recording)
    path = cuts_video_maker(tmp_path / "t.mp4", ["red", "blue"], seconds=0.6)
    for threads in (5, 0):
        options = RunOptions(decoder_threads=threads)
        runner = LocalRunner(memory_store, {"colorhist": ColorHistExtractor()}, options,
                             record_factory=record_factory)  # fmt: skip
        assert runner.run([Trailer(f"t{threads}", path)]).ok == 1
    counts = [stream.thread_count for stream in opened]
    assert counts[0] == 5 and counts[-1] != 5  # 0: FFmpeg's own choice (here cores + 1)
