"""Opt-in: the real Zenodo sandbox. Runs only when ZENODO_SANDBOX_TOKEN is set (never in CI).

It creates a draft on sandbox.zenodo.org, uploads a small archive, checks the md5s, sets the
metadata, and deletes nothing it did not create; it publishes only when
ZENODO_SANDBOX_PUBLISH=1 (sandbox DOIs are throwaway, but publishing cannot be undone).
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("ZENODO_SANDBOX_TOKEN"),
    reason="set ZENODO_SANDBOX_TOKEN to run against sandbox.zenodo.org",
)


def test_sandbox_draft_roundtrip(archive_dir, metadata, capfd):
    from cinefeat.store.fetch import fetch_record
    from cinefeat.store.zenodo.client import SANDBOX_API, ZenodoClient
    from cinefeat.store.zenodo.publish import publish_archive
    from cinefeat.store.zenodo.token import load_token

    token = load_token(sandbox=True)
    client = ZenodoClient(token, SANDBOX_API)
    publish = os.environ.get("ZENODO_SANDBOX_PUBLISH") == "1"
    result = publish_archive(client, archive_dir, metadata, publish=publish)
    files = {f["filename"] for f in client.deposition_files(result.deposition_id)}
    assert files >= {"MANIFEST.json", "metadata.zip", "feature-clip.zip"}
    if publish:
        store = fetch_record(client, str(result.deposition_id), archive_dir.parent / "dl")
        assert len(store.ids()) == 7
    captured = capfd.readouterr()
    assert token not in captured.out + captured.err
