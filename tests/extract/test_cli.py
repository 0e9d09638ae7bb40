"""`cinefeat extract` end to end into a real store: bad inputs, resume, SIGKILL, labels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def bad_dataset(tmp_path: Path, cuts_video_maker, run_ffmpeg) -> Path:
    root = tmp_path / "trailers"
    root.mkdir()
    good = cuts_video_maker(root / "good one.mp4", ["red", "blue"])
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n" * 50)
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])  # its index (moov) is lost
    streamable = tmp_path / "streamable.mp4"  # index first: the cut falls inside the media data
    run_ffmpeg("-i", str(good), "-c", "copy", "-movflags", "+faststart", str(streamable))
    data = streamable.read_bytes()
    (root / "truncated index first.mp4").write_bytes(data[: len(data) // 2])
    run_ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(root / "audio only.mp4"))
    cuts_video_maker(root / "no audio.mp4", ["white", "black"], audio=False)
    (root / "日本語").mkdir()
    cuts_video_maker(root / "日本語" / "half.mp4", ["green"], seconds=0.5)
    os.symlink(root, root / "日本語" / "loop")
    return root


def test_bad_inputs_each_get_the_exact_outcome(bad_dataset: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    code, out = invoke(
        "extract", str(bad_dataset), "--store", str(store_path), "--features", "colorhist", "--json"
    )
    assert code == 3, out  # some trailers failed (extract/summary.py EXIT_SOME_FAILED)
    summary = json.loads(out[out.index("{") :])
    assert (summary["ok"], summary["failed"], summary["skipped"]) == (3, 5, 0)
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == ["good one", "no audio", "日本語/half"]
    failed = {i: store.record(i) for i in store.ids(status="failed")}
    assert sorted(failed) == ["audio only", "empty", "text", "truncated", "truncated index first"]
    streamable = failed.pop("truncated index first")  # probes fine, fails where the data ends
    assert streamable.stage == "decode" and "DecodeError" in streamable.error
    assert "the video stream ends at" in streamable.error and streamable.feature_status == {}
    assert "truncated or corrupt" in streamable.error
    assert all(r.stage == "probe" for r in failed.values())
    assert "is empty (0 bytes)" in failed["empty"].error
    assert "not a readable media file" in failed["text"].error
    assert "not a readable media file" in failed["truncated"].error
    assert "no video stream (audio)" in failed["audio only"].error
    assert len(store.get("good one", "colorhist")) == 2
    assert len(store.get("日本語/half", "colorhist")) == 1
    assert (
        store.record("good one").source_sha256
        == __import__("hashlib").sha256((bad_dataset / "good one.mp4").read_bytes()).hexdigest()
    )
    # rerun: everything committed or failed is skipped; --retry-failed retries the 4 failures
    code, out = invoke(
        "extract", str(bad_dataset), "--store", str(store_path), "--features", "colorhist", "--json"
    )
    assert json.loads(out[out.index("{") :])["skipped"] == 8
    code, out = invoke(
        "extract",
        str(bad_dataset),
        "--store",
        str(store_path),
        "--features",
        "colorhist",
        "--json",
        "--retry-failed",
    )
    again = json.loads(out[out.index("{") :])
    assert (again["failed"], again["skipped"]) == (5, 3)


def test_unreadable_file_fails_at_probe(tmp_path: Path, cuts_video_maker, monkeypatch) -> None:
    root = tmp_path / "d"
    root.mkdir()
    path = cuts_video_maker(root / "locked.mp4", ["red"], audio=False)
    if os.geteuid() == 0:  # root reads any file: make PyAV see what a user would get
        import av

        real_open = av.open

        def denying_open(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(av, "open", denying_open)
    else:
        path.chmod(0)
    code, _ = invoke(
        "extract", str(root), "--store", str(tmp_path / "s"), "--features", "colorhist", "--json"
    )
    assert code == 4  # everything failed: nothing usable (EXIT_NOTHING_USABLE)
    record = FeatureStore.open(tmp_path / "s").record("locked")
    assert (record.status, record.stage) == ("failed", "probe")
    assert "permission denied" in record.error


def test_id_collision_alone_is_nothing_usable(tmp_path: Path, cuts_video_maker) -> None:
    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red"], audio=False)
    (root / "a.mkv").write_bytes((root / "a.mp4").read_bytes())
    code, out = invoke(
        "extract", str(root), "--store", str(tmp_path / "s"), "--features", "colorhist"
    )
    assert code == 4  # the one id collided (tests/extract/test_id_collisions.py: the rest runs)
    assert "a.mkv and" in out and "a.mp4 both map to trailer id 'a'" in out


def test_unknown_feature_and_option_errors_name_the_choices(tmp_path: Path) -> None:
    code, out = invoke(
        "extract", str(tmp_path), "--store", str(tmp_path / "s"), "--features", "nope"
    )
    assert code == 2 and "choose from:" in out and "colorhist" in out
    code, out = invoke(
        "extract",
        str(tmp_path),
        "--store",
        str(tmp_path / "s"),
        "--features",
        "colorhist",
        "--option",
        "colorhist.bins=3",
    )
    assert code == 1 and "valid: sampler, hue_bins" in out


def test_labels_options_and_limit(tmp_path: Path, cuts_video_maker) -> None:
    root = tmp_path / "d"
    root.mkdir()
    for name in ("a", "b", "c"):
        cuts_video_maker(root / f"{name}.mp4", ["red", "blue"], audio=False)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,genres\na.mp4,Drama|Horror\nb.mp4,Comedy\nc.mp4,Drama\n")
    code, out = invoke(
        "extract",
        str(root),
        "--store",
        str(tmp_path / "s"),
        "--features",
        "colorhist",
        "--labels",
        str(labels),
        "--limit",
        "2",
        "--option",
        "colorhist.hue_bins=2",
        "--option",
        "colorhist.sampler=every-k",
    )
    assert code == 0, out
    store = FeatureStore.open(tmp_path / "s")
    assert store.ids() == ["a", "b"]
    assert store.provenance("colorhist")["dim"] == 32
    assert len(store.get("a", "colorhist")) == 5  # 50 frames, every 12th
    names, multi_hot = store.labels()
    assert names == ["Comedy", "Drama", "Horror"]
    assert multi_hot["a"].tolist() == [0, 1, 1]


def test_sigkill_then_rerun_loses_and_duplicates_nothing(tmp_path: Path, cuts_video_maker) -> None:
    root = tmp_path / "d"
    root.mkdir()
    first = cuts_video_maker(root / "t00.mp4", ["red", "blue", "white"], audio=False)
    for i in range(1, 40):
        (root / f"t{i:02d}.mp4").write_bytes(first.read_bytes())
    store_path = tmp_path / "s"
    command = [
        sys.executable,
        "-m",
        "cinefeat.cli.main",
        "--quiet",
        "extract",
        str(root),
        "--store",
        str(store_path),
        "--features",
        "colorhist",
        "--batch-size",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
        if (store_path / "zarr.json").exists():
            try:
                committed = len(FeatureStore.open(store_path).ids())
            except Exception:
                continue
            if committed >= 5:
                break
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 5 <= committed < 40
    _, out = invoke(
        "extract", str(root), "--store", str(store_path), "--features", "colorhist", "--json"
    )
    summary = json.loads(out[out.index("{") :])
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == [f"t{i:02d}" for i in range(40)]
    assert summary["ok"] + summary["skipped"] == 40 and summary["skipped"] >= committed
    entries = sum(len(p.ids) for _, p in store.index.feature_parts("colorhist"))
    assert entries == 40  # each (id, feature) exactly once over all parts
    assert set(store.lengths("colorhist").values()) == {3}
    values, spans, _ = store.load_feature("colorhist")
    assert values.shape == (120, 128) and np.all(spans[:, 1] > spans[:, 0])


def test_missing_weights_offline_is_one_clear_error(tmp_path: Path, cuts_video_maker, tmp_cache):
    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red"], audio=False)
    result = CliRunner().invoke(
        main,
        ["--quiet", "extract", str(root), "--store", str(tmp_path / "s"), "--features", "clip"],
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # not a traceback
    assert "cannot load the models" in result.output and "Traceback" not in result.output
    assert "open_clip_model.safetensors" in result.output
    assert "cinefeat models download clip-vit-b-32-openai" in result.output


def test_vggish_postprocess_flag_needs_vggish(tmp_path: Path) -> None:
    code, out = invoke(
        "extract",
        str(tmp_path),
        "--store",
        str(tmp_path / "s"),
        "--features",
        "colorhist",
        "--vggish-postprocess",
    )
    assert code == 2 and "needs vggish in --features" in out


def test_shards_partition_the_dataset(tmp_path: Path, cuts_video_maker) -> None:
    """Two machines, `--shard 0/2` and `--shard 1/2`, share nothing and together cover the set."""
    root = tmp_path / "d"
    root.mkdir()
    first = cuts_video_maker(root / "t0.mp4", ["red"], audio=False)
    for i in range(1, 6):
        (root / f"t{i}.mp4").write_bytes(first.read_bytes())
    done = []
    for shard in ("0/2", "1/2"):
        store_path = tmp_path / f"store {shard[0]}"
        code, out = invoke(
            "extract", str(root), "--store", str(store_path), "--features", "colorhist",
            "--shard", shard,
        )  # fmt: skip
        assert code == 0, out
        done.append(set(FeatureStore.open(store_path).ids(status="ok")))
    assert done[0] and done[1] and not done[0] & done[1]
    assert done[0] | done[1] == {f"t{i}" for i in range(6)}
    code, out = invoke(
        "extract", str(root), "--store", str(tmp_path / "x"), "--features", "colorhist",
        "--shard", "2/2",
    )  # fmt: skip
    assert code == 1 and "--shard 2/2: need 0 <= i < n" in out


@pytest.mark.parametrize(
    ("flag", "expected"), [((), None), (("--fp16",), True), (("--fp32",), False)]
)
def test_precision_flag_reaches_the_extractors_load(
    tmp_path: Path, cuts_video_maker, monkeypatch, flag, expected
) -> None:
    from cinefeat.extract.extractors.colorhist import ColorHistExtractor

    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"], audio=False)
    seen: list[tuple[str, bool]] = []
    original = ColorHistExtractor.load

    def recording_load(self, device: str = "cpu", fp16: bool = False) -> None:
        seen.append((device, fp16))
        original(self, device, fp16)

    monkeypatch.setattr(ColorHistExtractor, "load", recording_load)
    args = ("extract", str(root), "--store", str(tmp_path / "s"), "--features", "colorhist")
    code, out = invoke(*args, *flag)
    assert code == 0, out
    # default: half precision on CUDA only, so a CPU run loads in fp32
    assert seen == [("cpu", bool(expected))]
