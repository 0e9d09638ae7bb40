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
    code, out = invoke("download", "clip-vit-b-32-openai")
    assert code == 1 and "Download failed: network is unreachable" in out
    assert not list(tmp_cache.rglob("*.safetensors*"))  # no partial file left behind


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
    assert code == 0 and "ok       my-clip/my-finetune.safetensors" in out
    assert "missing  clip-vit-b-32-openai/open_clip_model.safetensors" in out
    weights.write_bytes(b"tampered")
    code, out = invoke("verify")
    assert code == 1 and "BAD      my-clip" in out


def test_unknown_name(tmp_cache: Path) -> None:
    code, out = invoke("path", "nope")
    assert code == 1 and "unknown weights 'nope'" in out and "cinefeat models list" in out
