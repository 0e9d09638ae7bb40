"""benchmarks/reproduce_sulun2024.py and reproduce_divita.py, end to end on tiny releases.

The real releases cannot be fetched here, so each script runs on a small release written in the
exact format by the importer tests' builders (`tests/store/release_fixtures.py`), imported with
`import_release`, for one or two epochs: the point is that the protocol runs from an imported
store to the printed table, with the paper's numbers beside ours.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from release_fixtures import write_sulun_release, write_trailers12k_release

from cinefeat.store.importers import import_release

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduce_sulun2024_runs_the_three_heads(tmp_path: Path, capsys) -> None:
    write_sulun_release(tmp_path / "data")
    import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")
    script = _script("reproduce_sulun2024")
    plan = script.protocol("multi-transformer", "sulun2024", 1280, 50, 10)
    assert plan.max_len == {"sulun2024_clip": 159, "sulun2024_beats": 143,
                            "sulun2024_face_emotion": 79}  # fmt: skip
    assert plan.train["lr"] == 1e-5 and plan.train["pos_weight"] == 1.0
    rows = script.main(
        [str(tmp_path / "mn.zarr"), "--out", str(tmp_path / "runs"), "--d-model", "16",
         "--epochs", "1"]
    )  # fmt: skip
    assert [row["head"] for row in rows] == ["mlp", "single-transformer", "multi-transformer"]
    for row in rows:
        assert (tmp_path / "runs" / row["head"] / "model.safetensors").is_file()
        assert 0.0 <= row["ours"]["ap_macro"] <= 1.0
    table = capsys.readouterr().out
    assert "| multi-transformer:sulun2024 | 66.02 |" in table


def test_reproduce_divita_runs_every_split(tmp_path: Path, capsys) -> None:
    write_trailers12k_release(tmp_path / "data", count=30)
    import_release("trailers12k", tmp_path / "data", tmp_path / "t12k.zarr")
    script = _script("reproduce_divita")
    rows = script.main(
        [str(tmp_path / "t12k.zarr"), "--out", str(tmp_path / "runs"), "--epochs", "2",
         "--rows", "ShuffleNet-2D,ShuffleNet-Fusion,Swin-3D"]
    )  # fmt: skip
    assert [row["row"] for row in rows] == ["ShuffleNet-2D", "ShuffleNet-Fusion"]
    for row in rows:
        assert row["splits"] == 3
        for mean, std in row["ours"].values():
            assert 0.0 <= mean <= 1.0 and not math.isnan(std)
    captured = capsys.readouterr()
    assert "| ShuffleNet-Fusion | paper | 72.11±0.56 | 67.08±0.37 |" in captured.out
    assert "skipping Swin-3D" in captured.err
    assert (tmp_path / "runs" / "ShuffleNet-2D" / "split2" / "model.safetensors").is_file()


@pytest.mark.parametrize("name", ["reproduce_sulun2024", "reproduce_divita"])
def test_unknown_row_is_refused(name: str, tmp_path: Path) -> None:
    flag = "--heads" if name == "reproduce_sulun2024" else "--rows"
    with pytest.raises(SystemExit):
        _script(name).main(["unused.zarr", "--out", str(tmp_path), flag, "nope"])
