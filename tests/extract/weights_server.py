"""A loopback HTTP server that misbehaves the way real weights hosts do, for download tests.

It follows HTTP as RFC 9110 defines it: a `Range: bytes=N-` request is answered `206` with
`Content-Range: bytes N-M/TOTAL` (§14.4); a range past the end is answered `416` with
`Content-Range: bytes */TOTAL` (§15.5.17). The misbehaviours are ones users meet: an HTML page with
status 200 (a login or error page from a proxy or CDN), a connection that drops mid-body after
sending the full `Content-Length` header, `503` answers from an overloaded origin, and servers that
ignore `Range` (allowed by §14.2). `requests` records every request's path and Range header.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    drop_after: list[int] = field(default_factory=list)  # bytes sent by successive requests
    fail_first: int = 0  # answer 503 this many times first
    honour_range: bool = True


class WeightsServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                route = server.routes.get(self.path)
                if route is None:
                    self._answer(404, b"Entry not found", "text/plain")
                    return
                if route.fail_first:
                    route.fail_first -= 1
                    self._answer(503, b"<html>Service Unavailable</html>", "text/html")
                    return
                body, status, extra = route.body, route.status, {}
                wanted = self.headers.get("Range")
                if wanted and route.honour_range and status == 200:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self._answer(
                            416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"}
                        )
                        return
                    extra["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                    body, status = body[start:], 206
                limit = route.drop_after.pop(0) if route.drop_after else None
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body if limit is None else body[:limit])
                if limit is not None:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the connection drops mid-body

            def _answer(self, status, body, content_type, headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> WeightsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
