"""`cinefeat extract --config job.toml`: flags from a file, checked, recorded, repeatable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore


@pytest.fixture
def dataset(media, tmp_path) -> Path:
    root = tmp_path / "videos"
    root.mkdir()
    os.symlink(media("bikes.mp4"), root / "bikes.mp4")
    return root


def _job(tmp_path, body: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(body)
    return path


def _run(*args):
    return CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)


def test_config_file_runs_the_job_and_is_recorded(dataset, tmp_path):
    job = _job(
        tmp_path,
        f'[extract]\ndataset_dir = "{dataset}"\nstore = "{tmp_path / "s"}"\n'
        'features = "colorhist"\nbatch-size = 4\noption = ["colorhist.sampler=every-k"]\n',
    )
    result = _run("extract", "--config", job)
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s")
    assert store.ids() == ["bikes"] and store.features() == ["colorhist"]
    ((_, config),) = store.run_configs().items()
    assert config["config_file"] == str(job.resolve()) and config["command"].endswith("extract")
    assert config["params"]["batch_size"] == 4
    assert config["params"]["options"] == ["colorhist.sampler=every-k"]
    assert config["sources"]["batch_size"] == "default_map"  # from the file
    assert config["sources"]["fp16"] == "default"


def test_flags_win_over_the_file_and_toml_repeats_the_run(dataset, tmp_path):
    job = _job(tmp_path, f'[extract]\nfeatures = "clip"\nstore = "{tmp_path / "s"}"\n')
    result = _run("extract", dataset, "--config", job, "--features", "colorhist")
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s")
    assert store.features() == ["colorhist"]
    ((run, config),) = store.run_configs().items()
    assert config["sources"]["features"] == "commandline"
    again = _run("store", "runs", tmp_path / "s", "--toml", run)
    assert again.exit_code == 0 and again.output.startswith("# ") and "[extract]" in again.output
    text = again.output.replace(str(tmp_path / "s"), str(tmp_path / "s2"))
    result = _run("extract", "--config", _job(tmp_path, text))
    assert result.exit_code == 0, result.output
    ((_, repeated),) = FeatureStore.open(tmp_path / "s2").run_configs().items()
    same = {k: v for k, v in repeated["params"].items() if k != "store_path"}
    assert same == {k: v for k, v in config["params"].items() if k != "store_path"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[extract]\nbatch-size = "many"\n', "batch-size = 'many'"),
        ("[extract]\nbatchsize = 4\n", "unknown key 'batchsize'; valid keys: "),
        ("[train]\nepochs = 3\n", "has no [extract] section (sections found: [train])"),
        ("[extract\n", "not a readable TOML file"),
    ],
)
def test_bad_config_fails_before_any_work(dataset, tmp_path, body, message):
    result = _run("extract", dataset, "--store", tmp_path / "s", "--config", _job(tmp_path, body))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "s").exists()


def test_compaction_keeps_the_runs_settings(dataset, tmp_path):
    for feature in ("colorhist", "colorhist"):
        assert _run("extract", dataset, "--store", tmp_path / "s", "--features", feature,
                    "--retry-failed").exit_code == 0  # fmt: skip
    before = FeatureStore.open(tmp_path / "s").run_configs()
    assert _run("store", "compact", tmp_path / "s").exit_code == 0
    assert FeatureStore.open(tmp_path / "s").run_configs() == before and before
