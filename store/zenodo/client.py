"""A thin Zenodo REST client on `requests.Session`: auth, retries, and nothing clever.

The existing Python clients are early or stale, and the part of the API we need is small
(deposit/depositions, bucket uploads, publish/newversion actions, records). What matters is
behaving well on a flaky network without doing anything twice. Only idempotent requests (GET,
PUT, DELETE) are retried blindly on 5xx and dropped connections; a POST (create, publish, new
version) that fails that way raises `ZenodoUnknownOutcome`, and the caller asks Zenodo what
happened instead (users report 504s on publish that did publish: zenodo/zenodo issue #2131).
A 429 is retried for every method: the request was refused, not run. The wait comes from
Retry-After when present, else from X-RateLimit-Reset (a Unix time), the header Zenodo documents
(https://developers.zenodo.org/#rate-limiting). Request bodies are re-opened on each attempt so a
large file is streamed from disk every time, never held in memory.

The token travels in a Bearer header (not a query parameter, which servers log), only to the
scheme, host and port of `base_url`: a URL named in an answer (a file link, a redirect) on another
host never receives it. It is redacted from every error this module raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

from cinefeat.store.zenodo.errors import ZenodoAuthError, ZenodoError, ZenodoUnknownOutcome
from cinefeat.store.zenodo.token import Redactor

log = logging.getLogger(__name__)

ZENODO_API = "https://zenodo.org/api"
SANDBOX_API = "https://sandbox.zenodo.org/api"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # the usual ones; any 5xx is retried
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})  # RFC 9110 section 9.2.2
API_ENV = "CINEFEAT_ZENODO_API"


def should_retry(status: int) -> bool:
    """429 (rate limited) and every 5xx (server trouble) are worth another attempt."""
    return status in RETRY_STATUSES or 500 <= status < 600


def api_url(sandbox: bool, explicit: str | None = None) -> str:
    """`explicit` (--api-url), else $CINEFEAT_ZENODO_API, else zenodo.org or its sandbox."""
    import os

    return explicit or os.environ.get(API_ENV) or (SANDBOX_API if sandbox else ZENODO_API)


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def rate_limit_wait(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait on a 429: Retry-After, else X-RateLimit-Reset (Unix time) minus now."""
    wait = retry_after_seconds(headers.get("Retry-After"))
    if wait is not None:
        return wait
    reset = headers.get("X-RateLimit-Reset")
    try:
        return max(0.0, float(reset) - (time.time() if now is None else now))
    except (TypeError, ValueError):
        return None


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ZenodoClient:
    """Calls to one Zenodo instance (`base_url` is `.../api`) with one token (or none, to read)."""

    def __init__(
        self,
        token: str | None,
        base_url: str = ZENODO_API,
        *,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        max_wait_s: float = 300.0,
        timeout_s: tuple[float, float] = (15.0, 600.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.redactor = Redactor(token or "")
        self._token = token or None  # reading public records needs none
        self._origin = origin(self.base_url)
        self.session = requests.Session()
        self.session.trust_env = False  # no ~/.netrc credentials sent to hosts named in answers
        self.session.headers["User-Agent"] = "cinefeat-zenodo"

    def __repr__(self) -> str:  # never show the session headers
        return f"ZenodoClient({self.base_url!r})"

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def auth_headers(self, url: str) -> dict[str, str]:
        """The Bearer header, for URLs on the API's own origin only."""
        if self._token and origin(url) == self._origin:
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        wait = retry_after if retry_after is not None else self.backoff_s * 2**attempt
        self.sleep(min(wait, self.max_wait_s))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        body: Callable[[], IO[bytes]] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """One API call with retries; returns the `requests.Response` of a status in `ok`.

        `body` is a factory (e.g. `lambda: open(path, "rb")`) so every attempt streams afresh.
        """
        import requests

        url = self.url(path_or_url)
        send_headers = {**(headers or {}), **self.auth_headers(url)}
        blind = method.upper() in IDEMPOTENT
        failure = ""
        for attempt in range(self.max_retries + 1):
            data = body() if body is not None else None
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    data=data,
                    headers=send_headers,
                    stream=stream,
                    params=params,
                    timeout=self.timeout_s,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # dropped while reading the answer
            ) as error:
                failure = f"connection failed ({type(error).__name__}: {error})"
                if not blind:
                    raise ZenodoUnknownOutcome(self._unknown(method, url, failure)) from None
                log.warning("%s %s: %s; retrying", method, url, self.redactor.redact(failure))
                self._wait(attempt, None)
                continue
            finally:
                if data is not None:
                    data.close()
            if should_retry(response.status_code):
                failure = f"HTTP {response.status_code}: {self._server_message(response)}"
                if response.status_code != 429 and not blind:
                    response.close()
                    raise ZenodoUnknownOutcome(
                        self._unknown(method, url, failure), response.status_code
                    )
                wait = rate_limit_wait(response.headers) if response.status_code == 429 else None
                log.warning("%s %s: %s; retrying", method, url, self.redactor.redact(failure))
                response.close()
                self._wait(attempt, wait)
                continue
            if response.status_code in ok:
                return response
            self._raise(method, url, response)
        raise ZenodoError(
            self.redactor.redact(
                f"{method} {url} failed after {self.max_retries + 1} attempts; last error: "
                f"{failure}. Zenodo may be down or rate limiting: try again later (uploads "
                "resume where they stopped)"
            )
        )

    def _unknown(self, method: str, url: str, failure: str) -> str:
        return self.redactor.redact(
            f"{method} {url}: {failure}; it may or may not have taken effect, so it is not "
            "repeated blindly"
        )

    @staticmethod
    def _server_message(response: Any) -> str:
        try:
            payload = response.json()
        except ValueError:
            return response.text[:300]
        if not isinstance(payload, dict):
            return str(payload)[:300]
        message = str(payload.get("message", ""))
        errors = payload.get("errors") or []
        details = "; ".join(
            f"{e.get('field', '')}: {e.get('message', e.get('messages', ''))}"
            for e in errors
            if isinstance(e, dict)
        )
        return f"{message} ({details})" if details else message

    def _raise(self, method: str, url: str, response: Any) -> None:
        message = f"{method} {url} -> HTTP {response.status_code}: {self._server_message(response)}"
        if response.status_code in (401, 403) and self._token is None:
            raise ZenodoAuthError(  # nothing was refused: nothing was sent
                f"{message}. This is not public (a restricted record or its files): rerun with "
                "--auth to send your token ($ZENODO_TOKEN or --token-file) to this API host",
                response.status_code,
            )
        if response.status_code in (401, 403):
            raise ZenodoAuthError(
                self.redactor.redact(
                    f"{message}. The token was refused: check it is for this Zenodo instance "
                    "(sandbox tokens only work with --sandbox) and has the deposit:write and "
                    "deposit:actions scopes"
                ),
                response.status_code,
            )
        raise ZenodoError(self.redactor.redact(message), response.status_code)

    # -- depositions --------------------------------------------------------------------------

    def create_deposition(self) -> dict[str, Any]:
        return self.request("POST", "deposit/depositions", json={}).json()

    def drafts(self) -> list[dict[str, Any]]:
        """The account's unpublished depositions, newest first (to find a lost create's draft)."""
        return self.request(
            "GET", "deposit/depositions", params={"status": "draft", "sort": "mostrecent"}
        ).json()

    def deposition(self, deposition_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"deposit/depositions/{deposition_id}").json()

    def deposition_files(self, deposition_id: int | str) -> list[dict[str, Any]]:
        return self.request("GET", f"deposit/depositions/{deposition_id}/files").json()

    def delete_deposition_file(self, deposition_id: int | str, file_id: str) -> None:
        self.request("DELETE", f"deposit/depositions/{deposition_id}/files/{file_id}")

    def set_metadata(self, deposition_id: int | str, metadata: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PUT", f"deposit/depositions/{deposition_id}", json={"metadata": metadata}
        ).json()

    def publish(self, deposition_id: int | str) -> dict[str, Any]:
        return self.request("POST", f"deposit/depositions/{deposition_id}/actions/publish").json()

    def new_version(self, record_id: int | str) -> dict[str, Any]:
        """Create (or reuse) the draft of a new version of a published record; returns the draft.

        A lost answer is recovered by reading the record's `latest_draft` link: Zenodo keeps one
        open new-version draft per concept and answers later calls with it.
        """
        try:
            response = self.request("POST", f"deposit/depositions/{record_id}/actions/newversion")
            links = response.json()["links"]
        except ZenodoUnknownOutcome:
            links = self.deposition(record_id).get("links", {})
            if "latest_draft" not in links:
                raise
        return self.request("GET", links["latest_draft"]).json()

    def upload(self, bucket_url: str, name: str, path: str | Path) -> dict[str, Any]:
        """Stream `path` into the deposition's bucket as `name`; returns the server's file entry."""
        return self.request(
            "PUT",
            f"{bucket_url.rstrip('/')}/{quote(name)}",
            body=lambda: open(path, "rb"),  # closed by request()
            headers={"Content-Type": "application/octet-stream"},
        ).json()

    def delete_bucket_file(self, bucket_url: str, name: str) -> None:
        self.request("DELETE", f"{bucket_url.rstrip('/')}/{quote(name)}")

    # -- records ------------------------------------------------------------------------------

    def record(self, record_id: int | str) -> dict[str, Any]:
        return self.request("GET", f"records/{record_id}").json()

    def latest_record(self, record_or_concept_id: int | str) -> dict[str, Any]:
        """The latest version of a record, from a record id or a concept id.

        `GET /api/records/<concept id>` answers 404 on Zenodo; `/versions/latest` accepts both
        and redirects to the latest version (invenio-rdm-records, RDMRecordResource.read_latest).
        """
        return self.request("GET", f"records/{record_or_concept_id}/versions/latest").json()
