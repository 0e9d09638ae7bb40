"""`cinefeat models ...` over the weights registry, offline, with a temp cache."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cinefeat.cli.main import main


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", "models", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_list_shows_clip_unpinned_and_missing(tmp_cache: Path) -> None:
    code, out = invoke("list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    clip = rows["clip-vit-b-32-openai"]
    assert (clip["cached"], clip["pinned"], clip["format"]) == (
        False,
        False,
        "open_clip-safetensors",
    )
    assert clip["url"].endswith("/open_clip_model.safetensors")


def test_path_offline_error_names_file_url_and_command(tmp_cache: Path) -> None:
    code, out = invoke("path", "clip-vit-b-32-openai")
    assert code == 1
    assert "open_clip_model.safetensors" in out and "huggingface.co" in out
    assert "cinefeat models download clip-vit-b-32-openai" in out


def test_download_unreachable_url_is_a_clear_error(tmp_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("CINEFEAT_OFFLINE", "0")
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    from cinefeat.extract import download

    monkeypatch.setattr(download, "BACKOFF_S", 0.0)
    code, out = invoke("download", "clip-vit-b-32-openai")
    assert code == 1 and "Download failed: " in out and "network is unreachable" in out
    assert f"gave up after {download.ATTEMPTS} attempts" in out
    assert not list((tmp_cache / "clip-vit-b-32-openai").iterdir())  # no partial file left


def test_add_path_verify_and_tamper(tmp_cache: Path, tmp_path: Path) -> None:
    weights = tmp_path / "my-finetune.safetensors"
    weights.write_bytes(b"0123456789" * 100)
    code, out = invoke("add", "my-clip", str(weights), "--like", "clip-vit-b-32-openai")
    assert code == 0 and "sha256 " in out
    code, out = invoke("path", "my-clip")
    assert code == 0 and out.strip() == str(weights.resolve())
    rows = {r["name"]: r for r in json.loads(invoke("list", "--json")[1])}
    assert rows["my-clip"]["cached"] and rows["my-clip"]["format"] == "open_clip-safetensors"
    code, out = invoke("verify")
    assert code == 0 and "ok         my-clip/my-finetune.safetensors" in out
    assert "missing    clip-vit-b-32-openai/open_clip_model.safetensors" in out
    added = json.loads(invoke("add", "my-clip", str(weights), "--json")[1])
    assert added["name"] == "my-clip" and len(added["sha256"]) == 64
    assert json.loads(invoke("path", "my-clip", "--json")[1])["path"] == str(weights.resolve())
    weights.write_bytes(b"tampered")
    code, out = invoke("verify")
    assert code == 1 and "bad        my-clip" in out
    code, out = invoke("verify", "--json")  # the same exit code, the states as JSON
    states = {(f["entry"], f["state"]) for f in json.loads(out)}
    assert code == 1 and ("my-clip", "bad") in states


def _safetensors_file(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.zeros(4)}, str(path))
    return path


def test_verify_checks_without_recording_and_says_what_is_only_recorded(tmp_cache: Path) -> None:
    path = _safetensors_file(tmp_cache / "clip-vit-b-32-openai" / "open_clip_model.safetensors")
    code, out = invoke("verify")
    assert code == 0 and "unrecorded clip-vit-b-32-openai/open_clip_model.safetensors" in out
    assert not (tmp_cache / "recorded-sha256.json").exists()  # verify records nothing
    assert invoke("path", "clip-vit-b-32-openai") == (0, f"{path}\n")  # first use records
    code, out = invoke("verify")
    assert code == 0 and "sha256 recorded at first download; never published" in out
    _safetensors_file(path)  # same bytes: still ok
    path.write_bytes(path.read_bytes() + b" ")
    code, out = invoke("verify")
    assert code == 1 and "cinefeat models forget clip-vit-b-32-openai" in out


def test_list_says_which_entries_follow_main_and_how_each_is_pinned(tmp_cache: Path) -> None:
    rows = {r["name"]: r for r in json.loads(invoke("list", "--json")[1])}
    assert rows["distilbert-base-uncased"]["follows_main"] is True
    assert rows["distilbert-base-uncased"]["checksum"] == "recorded"
    assert rows["openai-whisper-tiny.en"]["checksum"] == "sha256 published"
    assert rows["openai-whisper-tiny.en"]["follows_main"] is False
    code, out = invoke("list")
    assert code == 0 and "follows `main` (no pinned revision)" in out


def test_path_prints_the_folder_of_a_multi_file_entry(tmp_cache: Path) -> None:
    from cinefeat.extract import pretrained

    entry = pretrained.get_weights("vit-base-patch16-224")
    folder = tmp_cache / entry.name
    _safetensors_file(folder / "model.safetensors")
    for remote in entry.files[1:]:
        (folder / remote.filename).write_text("{}")
    assert invoke("path", entry.name) == (0, f"{folder}\n")


def test_unknown_name(tmp_cache: Path) -> None:
    code, out = invoke("path", "nope")
    assert code == 1 and "unknown weights 'nope'" in out and "cinefeat models list" in out


def test_any_open_clip_model_is_an_entry_by_name(tmp_cache: Path) -> None:
    """Every CLIP the extractor can select (`--option clip.model=ViT-L-14 clip.pretrained=...`)
    can be fetched ahead of time for offline GPU nodes, by the name `models list` documents."""
    from cinefeat.extract.extractors.clip import weights_name

    name = weights_name("ViT-L-14", "openai")
    code, out = invoke("path", name)
    assert code == 1 and f"cinefeat models download {name}" in out
    assert "unknown weights" not in out and "https://" in out
    code, out = invoke("path", "clip-no-such-model-tag")
    assert code == 1 and "unknown weights" in out


def test_list_shows_source_checksum_and_licence_of_the_backbones(tmp_cache: Path) -> None:
    """Every weights entry the backbone features use (issue 19), with where it comes from, the
    publisher's checksum (torchvision: the sha256 prefix in the file name) and its licence."""
    code, out = invoke("list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    expected = {
        "torchvision-r2plus1d_18": "sha256-prefix:91a641e6",
        "torchvision-s3d": "sha256-prefix:d76dad2f",
        "torchvision-swin3d_t": "sha256-prefix:7615ae03",
        "torchvision-raft_small": "sha256-prefix:01064c6d",
        "torchvision-raft_large": "sha256-prefix:ff5fadd5",
        "i3d-flow-imagenet": "recorded",
        "torchvision-resnet50": "sha256-prefix:11ad3fa6",
        "places365-resnet50": "recorded",
    }
    for name, checksum in expected.items():
        row = rows[name]
        assert row["checksum_value"] == checksum, name
        assert row["source"] and row["licence"] and row["licence"] != "unknown", name
    assert rows["torchvision-raft_small"]["source"] == "torchvision.models.optical_flow.raft_small"
    assert "BSD-3-Clause" in rows["torchvision-raft_large"]["licence"]
    code, text = invoke("list")
    assert "source: torchvision.models.video.s3d; checksum: sha256-prefix:d76dad2f" in text
