"""Typed errors of the Zenodo client. Messages never contain the access token."""

from __future__ import annotations

from cinefeat.store.errors import CinefeatError


class ZenodoError(CinefeatError):
    """A Zenodo request failed in a way retries did not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ZenodoAuthError(ZenodoError):
    """No token, or the server refused it (401/403)."""


class ZenodoChecksumError(ZenodoError):
    """The server stored a file whose md5 differs from the manifest's."""


class ZenodoMetadataError(ZenodoError):
    """The metadata file is missing something Zenodo requires, or the server rejected it."""


class ZenodoUnknownOutcome(ZenodoError):
    """A non-idempotent request (POST) whose answer was lost: it may have taken effect."""
