"""`cinefeat split | train | evaluate | tune` on a tiny store, through the real entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import make_store

from cinefeat.cli.main import main

FAST = ["--epochs", "3", "--lr", "3e-3", "--batch-size", "16", "--pos-weight", "1"]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "store.zarr"
    make_store(path, count=60)
    invoke("split", str(path), "--kind", "sorted-id")
    return str(path)


def test_split_kinds(store_path: str) -> None:
    sizes = json.loads(
        invoke("split", store_path, "--kind", "stratified", "--seeds", "0,1", "--json")
    )
    assert sorted(sizes) == ["stratified-s0", "stratified-s1"]
    assert sizes["stratified-s0"]["test"] == 12
    folds = json.loads(
        invoke(
            "split", store_path, "--kind", "stratified", "--folds", "3", "--seeds", "0", "--json"
        )
    )
    assert len(folds) == 3


def test_train_evaluate_and_late_fusion(store_path: str, tmp_path: Path) -> None:
    a, b = tmp_path / "mlp", tmp_path / "mt"
    first = json.loads(
        invoke(
            "train",
            store_path,
            "--arch",
            "mlp",
            "--features",
            "clip,audiotag",
            "--out",
            str(a),
            "--set",
            "hidden=16",
            "--json",
            *FAST,
        )
    )
    again = json.loads(
        invoke(
            "train",
            store_path,
            "--arch",
            "mlp",
            "--features",
            "clip,audiotag",
            "--out",
            str(tmp_path / "again"),
            "--set",
            "hidden=16",
            "--json",
            *FAST,
        )
    )
    assert first["best_val_ap_macro"] == again["best_val_ap_macro"]  # --seed 0 both times
    invoke(
        "train",
        store_path,
        "--arch",
        "multi-transformer",
        "--features",
        "clip,audiotag",
        "--average",
        "audiotag",
        "--out",
        str(b),
        "--set",
        "d_model=16",
        "--set",
        "heads=2",
        *FAST,
    )
    features = json.loads((b / "features.json").read_text())
    assert [f["averaged"] for f in features["features"]] == [False, True]
    report = tmp_path / "report"
    answer = json.loads(
        invoke(
            "evaluate",
            store_path,
            "--head",
            str(a),
            "--head",
            str(b),
            "--out",
            str(report),
            "--late-fusion",
            "--json",
        )
    )
    assert 0.0 <= answer["late_fusion"]["weight"] <= 1.0
    assert (report / "summary.md").is_file() and (report / "late-fusion" / "report.md").is_file()
    for name in ("report.md", "metrics.json", "per_label_ap.png", "pr_most_frequent.png"):
        assert (report / "mlp" / name).is_file(), name
    assert answer["runs"][str(a)]["ap_macro"] > 0.5


def test_tune_picks_the_best_validation_run(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    summary = json.loads(
        invoke(
            "tune",
            store_path,
            "--arch",
            "mlp",
            "--features",
            "clip",
            "--out",
            str(out),
            "--grid",
            "lr=0,3e-3",
            "--set",
            "hidden=16",
            "--json",
            *FAST[2:],
        )
    )
    assert len(summary["results"]) == 2
    best = max(summary["results"], key=lambda r: r["val_ap_macro"])
    assert summary["best"] == best and best["params"]["lr"] == "3e-3"
    assert (out / "best" / "model.safetensors").is_file()


def test_tune_selects_by_the_select_by_score(store_path: str, tmp_path: Path) -> None:
    """`tune --select-by loss` picks the run with the lowest validation loss, not the highest
    macro AP (issue 17: tune accepted --select-by but always compared macro AP)."""
    common = ["--arch", "mlp", "--features", "clip", "--grid", "lr=3e-2,1e-1", "--set",
              "hidden=16", "--epochs", "3", "--batch-size", "16", "--json"]  # fmt: skip
    by_ap = json.loads(invoke("tune", store_path, "--out", str(tmp_path / "ap"), *common))
    by_loss = json.loads(
        invoke("tune", store_path, "--out", str(tmp_path / "loss"), "--select-by", "loss", *common)
    )
    assert by_ap["best"]["params"]["lr"] == "3e-2"  # the higher validation macro AP
    assert by_loss["select_by"] == "loss" and by_loss["best"]["params"]["lr"] == "1e-1"
    for result in by_loss["results"]:  # the score is the negated loss of the run's best epoch
        history = json.loads((tmp_path / "loss" / result["run"] / "history.json").read_text())
        assert result["score"] == -min(h["val_loss"] for h in history["history"])
    losses = [r["score"] for r in by_loss["results"]]
    aps = [r["val_ap_macro"] for r in by_loss["results"]]
    assert losses.index(max(losses)) != aps.index(max(aps))  # the two choices really differ


def test_evaluate_uses_the_split_the_head_was_trained_on(store_path: str, tmp_path: Path) -> None:
    """Without --split, evaluate must not fall back to the store's default split (which could put
    the head's training trailers in its test set)."""
    from cinefeat.store import FeatureStore

    everyone = sorted(FeatureStore.open(store_path).ids())
    split_file = tmp_path / "mine.json"
    # the test set of this file overlaps the *training* part of the stored sorted-id split
    split_file.write_text(
        json.dumps({"train": everyone[10:], "val": everyone[5:10], "test": everyone[:5]})
    )
    head = tmp_path / "head"
    invoke(
        "train",
        store_path,
        "--arch",
        "mlp",
        "--features",
        "clip",
        "--split-file",
        str(split_file),
        "--out",
        str(head),
        "--set",
        "hidden=16",
        *FAST,
    )
    recorded = json.loads((head / "features.json").read_text())["provenance"]["data"]
    assert recorded["split_file"] == str(split_file.resolve()) and recorded["sizes"]["test"] == 5
    invoke("evaluate", store_path, "--head", str(head), "--out", str(tmp_path / "r"))
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["count"] == 5
    assert f"split: {split_file.resolve()}" in (tmp_path / "r" / "report.md").read_text()
    invoke(
        "evaluate",
        store_path,
        "--head",
        str(head),
        "--split",
        "sorted-id",
        "--out",
        str(tmp_path / "s"),
    )
    assert json.loads((tmp_path / "s" / "metrics.json").read_text())["count"] == 12


def test_the_deprecated_head_name_of_train_still_trains(store_path: str, tmp_path: Path) -> None:
    """`train --head NAME` (before --arch) keeps working, so old scripts do not break; its JSON
    parses with a strict parser (no bare NaN)."""
    result = CliRunner().invoke(
        main,
        ["train", store_path, "--head", "mlp", "--features", "clip", "--out", str(tmp_path / "h"),
         "--set", "hidden=8", "--json", *FAST],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout, parse_constant=pytest.fail)
    assert answer["head"] == "mlp" and (tmp_path / "h" / "model.safetensors").is_file()
    assert "use --arch mlp" in result.stderr


def test_errors_name_the_fix(store_path: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["train", store_path, "--arch", "mlp", "--features", "nope", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "not in the store" in result.output
    result = CliRunner().invoke(
        main, ["evaluate", store_path, "--head", str(tmp_path), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0 and "cinefeat train" in result.output


def test_fuse_never_imports_extract() -> None:
    import subprocess

    code = (
        "import sys, cinefeat.fuse.cli, cinefeat.fuse.train, cinefeat.fuse.report, "
        "cinefeat.fuse.mulan, cinefeat.fuse.tune, cinefeat.fuse.predict, "
        "cinefeat.fuse.zeroshot, cinefeat.fuse.similarity, cinefeat.fuse.zeroshot_cli, "
        "cinefeat.fuse.similarity.report, cinefeat.fuse.zeroshot.report\n"
        "heavy = ('cinefeat.extract', 'open_clip', 'av', 'scenedetect')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
