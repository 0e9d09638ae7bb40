"""`cinefeat archive | publish | fetch` end to end against the fake Zenodo."""

from __future__ import annotations

import json
import logging

import pytest
import yaml
from click.testing import CliRunner

from cinefeat.store.publish_cli import archive_command, fetch_command, publish_command


@pytest.fixture
def metadata_file(tmp_path, metadata):
    path = tmp_path / "zenodo.yaml"
    path.write_text(yaml.safe_dump(metadata))
    return path


@pytest.fixture
def env(token, monkeypatch):
    monkeypatch.setenv("ZENODO_TOKEN", token)
    monkeypatch.delenv("ZENODO_SANDBOX_TOKEN", raising=False)


def _run(command, args):
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    return result


def test_archive_publish_fetch_roundtrip(
    store_path, tmp_path, metadata_file, fake_zenodo, env, token, caplog
):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "arch"
    result = _run(archive_command, [store_path, out, "--metadata", metadata_file, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["title"] == "Test trailer features"

    fake_zenodo.faults.update(upload_500=1, upload_429=1)
    fake_zenodo.retry_after = "0"
    api = ["--api-url", fake_zenodo.api]
    result = _run(publish_command, [out, "--metadata", metadata_file, *api])
    assert result.exit_code == 0, result.output
    assert "draft, NOT published" in result.stdout and fake_zenodo.published() == []

    result = _run(publish_command, [out, "--metadata", metadata_file, "--publish", "--json", *api])
    payload = json.loads(result.stdout)
    assert payload["published"] and len(payload["skipped"]) == 6 and payload["uploaded"] == []
    record = payload["deposition_id"]

    result = _run(fetch_command, [f"10.5281/zenodo.{record}", tmp_path / "dl", *api])
    assert result.exit_code == 0, result.output
    assert "7 trailers, features audio, clip (verified)" in result.stdout
    assert token not in result.output + caplog.text


def test_publish_without_token_names_the_fix(archive_dir, metadata_file, monkeypatch):
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    result = CliRunner().invoke(
        publish_command, [str(archive_dir), "--metadata", str(metadata_file)]
    )
    assert result.exit_code == 1
    assert "export it as ZENODO_TOKEN" in result.output


def test_rejected_token_is_redacted_in_cli_output(
    archive_dir, metadata_file, fake_zenodo, monkeypatch, token
):
    wrong = "WRONG-" + token
    monkeypatch.setenv("ZENODO_TOKEN", wrong)
    result = CliRunner().invoke(
        publish_command,
        [str(archive_dir), "--metadata", str(metadata_file), "--api-url", fake_zenodo.api],
    )
    assert result.exit_code == 1 and "token was refused" in result.output
    assert wrong not in result.output and token not in result.output


def test_no_token_argument_exists():
    options = {opt for param in publish_command.params for opt in getattr(param, "opts", [])}
    assert "--token" not in options and "--token-file" in options


def test_archive_over_limits_is_a_clean_error(store_path, tmp_path, monkeypatch):
    import cinefeat.store.archive.build as build

    monkeypatch.setattr(build, "FIXED_FILES", tuple(f"f{i}" for i in range(99)))
    result = CliRunner().invoke(archive_command, [str(store_path), str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "Error: " in result.output and "nothing was uploaded" in result.output


def test_missing_publish_extra_names_the_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "requests", None)  # `import requests` now fails
    result = CliRunner().invoke(fetch_command, ["1234", str(tmp_path / "dl")])
    assert result.exit_code == 1
    assert "pip install 'cinefeat[publish]'" in result.output


def test_sandbox_flag_selects_sandbox_api_and_token(monkeypatch):
    from cinefeat.store.publish_cli import _client
    from cinefeat.store.zenodo.client import SANDBOX_API, ZENODO_API

    monkeypatch.setenv("ZENODO_TOKEN", "prod-token")
    monkeypatch.setenv("ZENODO_SANDBOX_TOKEN", "sandbox-token")
    sandbox = _client(True, None, None, need_token=True)
    production = _client(False, None, None, need_token=True)
    assert sandbox.base_url == SANDBOX_API and production.base_url == ZENODO_API
    assert sandbox.auth_headers(SANDBOX_API + "/x") == {"Authorization": "Bearer sandbox-token"}
    assert production.auth_headers(ZENODO_API + "/x") == {"Authorization": "Bearer prod-token"}
