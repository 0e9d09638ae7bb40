"""One resumable HTTP download: retries with backoff, HTTP Range resume, a progress bar.

Why its own module: every weights entry (extract.pretrained) and every published release
(store.importers.releases) goes through it: a 2.4 GB SWAG file, a 300 MB PANNs checkpoint, a
20 kB `config.json`, a 40 GB feature release, and the transport is the part that meets real
networks: 5xx answers, dropped connections, servers that ignore `Range`. What the bytes *are*
(size, magic bytes, checksums) is checked afterwards by the caller (`pretrained`, `releases`),
before anything is used; this module only guarantees that `partial` holds a prefix of the
served file.

HTTP facts relied on (RFC 9110): a `Range: bytes=N-` request is answered `206 Partial Content`
with `Content-Range: bytes N-M/TOTAL` (§14.4), or `200` with the whole file when the server
ignores ranges (§14.2: a server MAY ignore the header); `416 Range Not Satisfiable` carries
`Content-Range: bytes */TOTAL` (§15.5.17), which is how a complete partial is recognised.
"""

from __future__ import annotations

import http.client
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cinefeat.store.errors import CinefeatError

log = logging.getLogger(__name__)

ATTEMPTS = 6
BACKOFF_S = 1.0  # doubled after each failed attempt, capped at MAX_BACKOFF_S
MAX_BACKOFF_S = 30.0
TIMEOUT_S = 60.0
CHUNK = 1 << 20
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REFUSED_TYPES = ("text/html", "application/xhtml+xml")
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)")


class DownloadError(CinefeatError):
    """The server refused, kept failing, or answered something that is not the file."""


class OversizedDownload(DownloadError):
    """The server announced or sent more bytes than the listing gives for the file."""


def download(
    url: str,
    partial: Path,
    *,
    attempts: int | None = None,
    backoff_s: float | None = None,
    sleep: Callable[[float], None] | None = None,
    progress: bool = True,
    max_bytes: int | None = None,
    user_agent: str = "cinefeat (weights download)",
) -> int:
    """Make `partial` hold the whole body of `url`, resuming from its current length.

    Returns the number of bytes. A dropped connection or a retryable status costs a wait and a
    Range request for the rest, never the bytes already on disk; after the last attempt the
    partial file is kept so a later call resumes it. With `max_bytes` (the size a listing gives),
    a server that sends more is refused and the partial deleted: a listing bounds the disk used.
    """
    attempts = ATTEMPTS if attempts is None else attempts
    backoff_s = BACKOFF_S if backoff_s is None else backoff_s
    sleep = time.sleep if sleep is None else sleep
    partial.parent.mkdir(parents=True, exist_ok=True)
    last_error = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            wait = min(backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d)", url, last_error, wait, attempt + 1
            )
            sleep(wait)
        have = partial.stat().st_size if partial.exists() else 0
        try:
            done = _attempt(url, partial, have, progress, max_bytes, user_agent)
        except urllib.error.HTTPError as error:
            total = _range_total(error.headers.get("Content-Range")) if error.code == 416 else None
            if error.code == 416 and total is not None and total == have:
                return have  # the partial is already the whole file
            if error.code == 416:
                partial.unlink(missing_ok=True)  # stale partial (the file changed): start over
                last_error = "HTTP 416 for the partial download"
                continue
            if error.code in RETRY_STATUSES:
                last_error = f"HTTP {error.code} {error.reason}"
                continue
            raise DownloadError(f"{url} answered HTTP {error.code} {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
            last_error = f"{type(error).__name__}: {error}"
            continue
        if done is not None:
            return done
        last_error = "the connection closed before the end of the file"
    got = partial.stat().st_size if partial.exists() else 0
    raise DownloadError(
        f"{url}: gave up after {attempts} attempts ({last_error}); {got} bytes are kept in "
        f"{partial} and the next download resumes from there"
    )


def _attempt(
    url: str,
    partial: Path,
    have: int,
    progress: bool,
    max_bytes: int | None = None,
    user_agent: str = "cinefeat (weights download)",
) -> int | None:
    """One request; returns the size when the file is complete, None when it stopped short."""
    headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in REFUSED_TYPES:
            raise DownloadError(
                f"{url} answered a web page ({content_type}, HTTP {response.status}), not the "
                "weights file: the URL moved or the server shows an error or login page"
            )
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
            if not match or match.group(1) is None or int(match.group(1)) != have:
                partial.unlink(missing_ok=True)  # a range we did not ask for: start over
                return None
            start = have
            total = None if match.group(2) == "*" else int(match.group(2))
        else:
            start = 0  # 200: the server ignored Range and sends the whole file
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if max_bytes is not None and total is not None and total > max_bytes:
            raise OversizedDownload(
                f"{url} announces {total} bytes, more than the {max_bytes} its listing gives: "
                "refused before reading (the file changed, or the server is broken or hostile)"
            )
        written = _copy(response, partial, start, total, progress, max_bytes)
    if total is not None and written < total:
        return None
    return written


def _copy(
    response,
    partial: Path,
    start: int,
    total: int | None,
    progress: bool,
    max_bytes: int | None = None,
) -> int:
    from tqdm import tqdm

    mode = "ab" if start else "wb"
    bar = tqdm(
        total=total,
        initial=start,
        unit="B",
        unit_scale=True,
        desc=partial.name.removesuffix(".partial"),
        disable=None if progress else True,  # None: shown on a terminal only
        leave=False,
    )
    written = start
    try:
        with open(partial, mode) as out, bar:
            while True:
                try:
                    block = response.read(CHUNK)
                except (http.client.IncompleteRead, ConnectionError, TimeoutError) as error:
                    log.warning(
                        "%s: connection dropped after %d bytes (%s)", partial, written, error
                    )
                    break
                if not block:
                    break
                if max_bytes is not None and written + len(block) > max_bytes:
                    out.close()
                    partial.unlink(missing_ok=True)
                    raise OversizedDownload(
                        f"{partial.name.removesuffix('.partial')}: the server sent more than the "
                        f"{max_bytes} bytes listed; the download was stopped and deleted"
                    )
                out.write(block)
                written += len(block)
                bar.update(len(block))
    finally:
        response.close()
    return written


def _range_total(header: str | None) -> int | None:
    match = _CONTENT_RANGE.match(header or "")
    if match and match.group(2) != "*":
        return int(match.group(2))
    return None
