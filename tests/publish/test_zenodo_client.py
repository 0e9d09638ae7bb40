"""The thin Zenodo client against the fake server: auth, retries, redaction."""

from __future__ import annotations

import logging

import pytest

from cinefeat.store.zenodo.client import ZenodoClient, retry_after_seconds
from cinefeat.store.zenodo.errors import ZenodoAuthError, ZenodoError
from cinefeat.store.zenodo.token import Redactor, load_token


def test_bearer_header_and_create(client, fake_zenodo, token):
    draft = client.create_deposition()
    assert draft["submitted"] is False and "bucket" in draft["links"]
    assert fake_zenodo.seen_authorization == [f"Bearer {token}"]
    assert token not in repr(client)


def test_wrong_token_error_is_typed_and_redacted(fake_zenodo, token):
    wrong = "not-the-token-" + token[::-1]
    client = ZenodoClient(wrong, fake_zenodo.api, sleep=lambda s: None)
    with pytest.raises(ZenodoAuthError, match="token was refused") as caught:
        client.create_deposition()
    assert wrong not in str(caught.value) and caught.value.status == 401


def test_upload_retries_500_then_succeeds(client, fake_zenodo, tmp_path, sleeps):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")
    draft = client.create_deposition()
    fake_zenodo.faults["upload_500"] = 1
    entry = client.upload(draft["links"]["bucket"], "f.bin", path)
    assert entry["checksum"] == "md5:5d41402abc4b2a76b9719d911017c592"
    assert fake_zenodo.calls("PUT", "/api/files/") == 2
    assert sleeps == [0.001]  # backoff of the first retry


def test_429_waits_until_x_ratelimit_reset(client, fake_zenodo, tmp_path, sleeps):
    """Zenodo's 429 carries X-RateLimit-Reset (a Unix time), no Retry-After."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    draft = client.create_deposition()
    fake_zenodo.faults["upload_429"] = 2
    fake_zenodo.retry_after = "7"
    client.upload(draft["links"]["bucket"], "f.bin", path)
    assert len(sleeps) == 2 and all(6.0 <= s <= 8.0 for s in sleeps), sleeps


def test_dropped_connection_mid_upload_is_retried(client, fake_zenodo, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * 3_000_000)
    draft = client.create_deposition()
    fake_zenodo.faults["upload_drop"] = 1
    entry = client.upload(draft["links"]["bucket"], "big.bin", path)
    assert entry["size"] == 3_000_000
    assert fake_zenodo.calls("PUT", "/api/files/") == 2


def test_gives_up_after_max_retries_with_clear_error(fake_zenodo, token, tmp_path):
    client = ZenodoClient(token, fake_zenodo.api, max_retries=2, sleep=lambda s: None)
    draft = client.create_deposition()
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    fake_zenodo.faults["upload_500"] = 10
    with pytest.raises(ZenodoError, match=r"failed after 3 attempts.*HTTP 500.*resume"):
        client.upload(draft["links"]["bucket"], "f.bin", path)


def test_unreachable_server_error_has_no_token(token):
    client = ZenodoClient(token, "http://127.0.0.1:9/api", max_retries=1, sleep=lambda s: None)
    with pytest.raises(ZenodoError, match="connection failed") as caught:
        client.create_deposition()
    assert token not in str(caught.value)


def test_token_never_logged(fake_zenodo, token, tmp_path, caplog, capfd):
    """Every logger at DEBUG (urllib3 included) while requests fail and retry."""
    caplog.set_level(logging.DEBUG)
    client = ZenodoClient(token, fake_zenodo.api, sleep=lambda s: None)
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    draft = client.create_deposition()
    fake_zenodo.faults.update(upload_500=1, upload_429=1, upload_drop=1)
    client.upload(draft["links"]["bucket"], "f.bin", path)
    with pytest.raises(ZenodoAuthError):
        ZenodoClient(token + "x", fake_zenodo.api).create_deposition()
    captured = capfd.readouterr()
    assert "retrying" in caplog.text  # the retries were logged...
    assert token not in caplog.text  # ...without the token
    assert token not in captured.out + captured.err


def test_redactor_filters_log_records(caplog, token):
    redactor = Redactor(token)
    logger = logging.getLogger("cinefeat.test.redact")
    caplog.set_level(logging.WARNING, logger=logger.name)
    caplog.handler.addFilter(redactor)
    try:
        logger.warning("leaked %s here", token)
    finally:
        caplog.handler.removeFilter(redactor)
    state = (logger.getEffectiveLevel(), logger.disabled, logging.root.manager.disable)
    assert "leaked *** here" in caplog.text, f"nothing captured; logger state {state}"
    assert token not in caplog.text


def test_token_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    monkeypatch.delenv("ZENODO_SANDBOX_TOKEN", raising=False)
    with pytest.raises(ZenodoAuthError, match="export it as ZENODO_TOKEN"):
        load_token()
    monkeypatch.setenv("ZENODO_TOKEN", "from-env")
    assert load_token() == "from-env"
    monkeypatch.setenv("ZENODO_SANDBOX_TOKEN", "from-sandbox-env")
    assert load_token(sandbox=True) == "from-sandbox-env"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert load_token(token_file) == "from-file"
    token_file.write_text("")
    with pytest.raises(ZenodoAuthError, match="empty"):
        load_token(token_file)


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("0", 0.0), (None, None), ("soon", None)]
)
def test_retry_after_parsing(header, expected):
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date():
    import time
    from email.utils import formatdate

    assert 8 <= retry_after_seconds(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_upload_streams_the_file_from_disk(client, fake_zenodo, tmp_path):
    """requests gets an open file (it streams it with Content-Length), never the bytes."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"q" * 2_000_000)
    draft = client.create_deposition()
    bodies = []
    real = client.session.request

    def spy(method, url, **kwargs):
        data = kwargs.get("data")
        if data is not None:
            bodies.append((type(data), getattr(data, "name", None), data.tell()))
        return real(method, url, **kwargs)

    client.session.request = spy
    fake_zenodo.faults["upload_500"] = 1  # each attempt opens the file afresh, from byte 0
    entry = client.upload(draft["links"]["bucket"], "big.bin", path)
    assert entry["size"] == 2_000_000
    assert len(bodies) == 2
    for kind, name, position in bodies:
        assert not issubclass(kind, (bytes, bytearray)) and hasattr(kind, "read")
        assert name == str(path) and position == 0


@pytest.mark.parametrize(
    ("status", "retried"), [(429, True), (500, True), (507, True), (599, True), (404, False)]
)
def test_which_statuses_are_retried(status, retried):
    from cinefeat.store.zenodo.client import should_retry

    assert should_retry(status) is retried


def test_answer_dropped_mid_body_is_retried(client, fake_zenodo, sleeps):
    import requests

    real = client.session.request
    calls = []

    def drops_once(method, url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")
        return real(method, url, **kwargs)

    draft = client.create_deposition()
    client.session.request = drops_once
    assert client.deposition(draft["id"])["submitted"] is False  # a GET: retried blindly
    assert len(calls) == 2 and sleeps == [0.001]


def test_post_with_a_lost_answer_is_not_repeated(client, fake_zenodo):
    """A create whose answer is lost raises ZenodoUnknownOutcome after one request."""
    from cinefeat.store.zenodo.errors import ZenodoUnknownOutcome

    fake_zenodo.faults["create_lost"] = 1
    with pytest.raises(ZenodoUnknownOutcome, match="not repeated blindly"):
        client.create_deposition()
    assert fake_zenodo.calls("POST", "/api/deposit/depositions$") == 1
