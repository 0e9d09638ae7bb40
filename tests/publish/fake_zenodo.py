"""A fake Zenodo on loopback: the deposit, files and records endpoints cinefeat uses.

It enforces what the real service enforces and tests rely on (Bearer auth, required metadata at
publish, the 100-file limit, locked buckets once published, one open draft per new version) and
injects faults on demand: `faults["upload_500"] = 1` answers the next upload with a 500, and so on
for "upload_429", "upload_drop" (connection closed mid-body), "upload_bad_md5" (stores the file but
reports a wrong checksum), "download_drop" (closes after half the bytes of a file over 100 kB),
"publish_lost" (publishes, then closes the connection without an answer, as the 504s users
report on publish: zenodo/zenodo issue #2131) and "create_lost" (creates, then drops the answer).

Where it matters, it answers as Zenodo does (each rule cites its source):
- unknown ids and routes are 404 (https://developers.zenodo.org/#http-status-codes);
- a concept has its own id, distinct from every version's id; `GET /api/records/<concept id>`
  is 404 and `/api/records/<id>/versions/latest` takes a record or concept id and redirects to
  the latest version (invenio-rdm-records, RDMRecordResource.read_latest returns a redirect);
- publishing a published deposition is 404: the draft is gone once published (zenodo-rdm's
  legacy deposit API publishes through the RDM draft service);
- a published record's bucket is locked: file uploads and deletions are 403 (invenio-files-rest,
  invenio_files_rest/errors.py, BucketLockedError code 403);
- 429 carries X-RateLimit-Limit/-Remaining/-Reset (Unix time), not Retry-After
  (https://developers.zenodo.org/#rate-limiting);
- the files of a restricted (or closed) record are served only with a token: anonymous content
  requests are 403 while the record's metadata stays public (Zenodo's access_right docs:
  "restricted: files are restricted", https://help.zenodo.org/docs/deposit/manage-files/);
- metadata is validated: required fields, the closed vocabularies, embargo_date for embargoed and
  access_conditions for restricted records (https://developers.zenodo.org/#representation).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

MAX_FILES = 100
REQUIRED_METADATA = ("upload_type", "title", "creators", "description")
# https://developers.zenodo.org/#representation (Deposit metadata)
ACCESS_RIGHTS = ("open", "embargoed", "restricted", "closed")
UPLOAD_TYPES = ("publication", "poster", "presentation", "dataset", "image", "video", "software",
                "lesson", "physicalobject", "other")  # fmt: skip


class FakeZenodo:
    def __init__(self, token: str) -> None:
        self.token = token
        self.depositions: dict[int, dict[str, Any]] = {}
        self.buckets: dict[str, int] = {}
        self.next_id = 1000
        self.faults: dict[str, int] = {}
        self.retry_after = "2"  # seconds until X-RateLimit-Reset on a 429
        self.requests: list[tuple[str, str]] = []
        self.seen_authorization: list[str] = []  # by the deposit API's auth check
        self.authorization_by_path: list[tuple[str, str]] = []  # every request
        self.range_starts: list[int] = []
        # a hostile or misconfigured server may name another host in its file links
        self.file_links_base: str | None = None
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api = f"{self.url}/api"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeZenodo:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, name: str) -> bool:
        with self.lock:
            if self.faults.get(name, 0) > 0:
                self.faults[name] -= 1
                return True
        return False

    def calls(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.requests if m == method and re.search(pattern, p))

    # -- model -----------------------------------------------------------------------------------

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id - 1

    def new_deposition(self, files: dict[str, dict[str, Any]] | None = None, concept=None):
        concept = concept or self.new_id()  # a concept id is an id of its own, never a version's
        dep_id = self.new_id()
        bucket = uuid.uuid4().hex
        deposition = {
            "id": dep_id,
            "conceptrecid": concept,
            "created": datetime.now(timezone.utc).isoformat(),
            "submitted": False,
            "state": "unsubmitted",
            "metadata": {},
            "bucket": bucket,
            "files": {k: dict(v) for k, v in (files or {}).items()},
            "doi": None,
        }
        self.depositions[dep_id] = deposition
        self.buckets[bucket] = dep_id
        return deposition

    def view(self, dep: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.api}/deposit/depositions/{dep['id']}"
        links = {
            "self": base,
            "html": f"{self.url}/deposit/{dep['id']}",
            "bucket": f"{self.api}/files/{dep['bucket']}",
            "publish": f"{base}/actions/publish",
            "newversion": f"{base}/actions/newversion",
        }
        if dep["submitted"]:
            links["record_html"] = f"{self.url}/records/{dep['id']}"
            draft = self.open_draft_of(dep["conceptrecid"])
            if draft is not None:
                links["latest_draft"] = f"{self.api}/deposit/depositions/{draft['id']}"
        return {
            "id": dep["id"],
            "conceptrecid": dep["conceptrecid"],
            "created": dep["created"],
            "submitted": dep["submitted"],
            "state": dep["state"],
            "metadata": dep["metadata"],
            "doi": dep["doi"],
            "links": links,
            "files": [self.file_view(f) for f in dep["files"].values()],
        }

    @staticmethod
    def file_view(entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": entry["id"],
            "filename": entry["key"],
            "filesize": len(entry["data"]),
            "checksum": entry["md5"],
        }

    def open_draft_of(self, concept: int) -> dict[str, Any] | None:
        for dep in self.depositions.values():
            if dep["conceptrecid"] == concept and not dep["submitted"]:
                return dep
        return None

    def published(self) -> list[int]:
        return [d["id"] for d in self.depositions.values() if d["submitted"]]

    def latest_of(self, record_or_concept: int) -> dict[str, Any] | None:
        dep = self.depositions.get(record_or_concept)
        concept = dep["conceptrecid"] if dep else record_or_concept
        versions = [d for d in self.depositions.values() if d["conceptrecid"] == concept]
        versions = [d for d in versions if d["submitted"]]
        return max(versions, key=lambda d: d["id"]) if versions else None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeZenodo

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status: int, message: str, errors: list | None = None) -> None:
        self.send_json(status, {"status": status, "message": message, "errors": errors or []})

    def authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        self.fake.seen_authorization.append(header)
        if header != f"Bearer {self.fake.token}":
            self.error(401, "The server could not verify that you are authorized.")
            return False
        return True

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self, method: str) -> None:
        path = urlparse(self.path).path
        self.fake.requests.append((method, path))
        self.fake.authorization_by_path.append((path, self.headers.get("Authorization", "")))
        for pattern, name in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and name.startswith(method.lower() + "_"):
                getattr(self, name)(*[unquote(g) for g in match.groups()])
                return
        self.error(404, f"no route {method} {path}")

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def deposition(self, dep_id: str) -> dict[str, Any] | None:
        dep = self.fake.depositions.get(int(dep_id))
        if dep is None:
            self.error(404, f"deposition {dep_id} not found")
        return dep

    # -- deposit API ------------------------------------------------------------------------------

    def drop_answer(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def post_create(self) -> None:
        if self.authorized():
            self.read_body()
            dep = self.fake.new_deposition()
            if self.fake.fault("create_lost"):
                self.drop_answer()
                return
            self.send_json(201, self.fake.view(dep))

    def get_list(self) -> None:
        if not self.authorized():
            return
        query = parse_qs(urlparse(self.path).query)
        deps = sorted(self.fake.depositions.values(), key=lambda d: d["created"], reverse=True)
        if query.get("status") == ["draft"]:
            deps = [d for d in deps if not d["submitted"]]
        self.send_json(200, [self.fake.view(d) for d in deps])

    def get_deposition(self, dep_id: str) -> None:
        if self.authorized() and (dep := self.deposition(dep_id)):
            self.send_json(200, self.fake.view(dep))

    def put_deposition(self, dep_id: str) -> None:
        if not self.authorized() or not (dep := self.deposition(dep_id)):
            return
        payload = json.loads(self.read_body() or b"{}")
        if dep["submitted"]:
            self.error(400, "published depositions cannot be edited without actions/edit")
            return
        metadata = payload.get("metadata", {})
        errors = self.vocabulary_errors(metadata)
        if errors:
            self.error(400, "Validation error.", errors)
            return
        errors = [
            {"field": f"metadata.{key}", "message": "Field is required."}
            for key in REQUIRED_METADATA
            if not metadata.get(key)
        ]
        for i, creator in enumerate(metadata.get("creators") or []):
            if not creator.get("name"):
                errors.append({"field": f"metadata.creators.{i}.name", "message": "required"})
        if errors:
            self.error(400, "Validation error.", errors)
            return
        dep["metadata"] = metadata
        self.send_json(200, self.fake.view(dep))

    @staticmethod
    def vocabulary_errors(metadata: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        access = metadata.get("access_right", "open")
        if access not in ACCESS_RIGHTS:
            errors.append({"field": "metadata.access_right", "message": "Not a valid choice."})
        if metadata.get("upload_type") not in UPLOAD_TYPES:
            errors.append({"field": "metadata.upload_type", "message": "Not a valid choice."})
        if access == "embargoed" and not metadata.get("embargo_date"):
            errors.append({"field": "metadata.embargo_date", "message": "Field is required."})
        if access == "restricted" and not metadata.get("access_conditions"):
            errors.append({"field": "metadata.access_conditions", "message": "required"})
        if access in ("open", "embargoed") and not metadata.get("license"):
            errors.append({"field": "metadata.license", "message": "Field is required."})
        return errors

    def get_files(self, dep_id: str) -> None:
        if self.authorized() and (dep := self.deposition(dep_id)):
            self.send_json(200, [self.fake.file_view(f) for f in dep["files"].values()])

    def delete_file(self, dep_id: str, file_id: str) -> None:
        if not self.authorized() or not (dep := self.deposition(dep_id)):
            return
        if dep["submitted"]:  # invenio-files-rest BucketLockedError
            self.error(403, "Bucket is locked for modifications.")
            return
        for key, entry in list(dep["files"].items()):
            if entry["id"] == file_id:
                del dep["files"][key]
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.error(404, f"file {file_id} not found")

    def post_publish(self, dep_id: str) -> None:
        if not self.authorized() or not (dep := self.deposition(dep_id)):
            return
        missing = [k for k in REQUIRED_METADATA if not dep["metadata"].get(k)]
        missing += [e["field"] for e in self.vocabulary_errors(dep["metadata"])]
        if dep["submitted"]:  # the draft is gone once published
            self.error(404, "The persistent identifier does not exist.")
        elif missing:
            self.error(
                400, "Validation error.", [{"field": k, "message": "required"} for k in missing]
            )
        elif not dep["files"]:
            self.error(400, "Minimum one file must be provided.")
        else:
            dep["submitted"], dep["state"] = True, "done"
            dep["doi"] = f"10.5072/zenodo.{dep['id']}"
            if self.fake.fault("publish_lost"):
                self.drop_answer()
                return
            self.send_json(202, self.fake.view(dep))

    def post_newversion(self, dep_id: str) -> None:
        if not self.authorized() or not (dep := self.deposition(dep_id)):
            return
        if not dep["submitted"]:
            self.error(400, "new versions can only be made of published records")
            return
        if self.fake.open_draft_of(dep["conceptrecid"]) is None:
            self.fake.new_deposition(dep["files"], concept=dep["conceptrecid"])
        self.send_json(201, self.fake.view(dep))

    # -- files API (bucket) -----------------------------------------------------------------------

    def put_bucket(self, bucket: str, key: str) -> None:
        if not self.authorized():
            return
        dep_id = self.fake.buckets.get(bucket)
        if dep_id is None:
            self.error(404, "bucket not found")
            return
        dep = self.fake.depositions[dep_id]
        length = int(self.headers.get("Content-Length") or 0)
        if self.fake.fault("upload_drop"):
            self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        data = self.rfile.read(length)
        if self.fake.fault("upload_500"):
            self.error(500, "Internal server error")
            return
        if self.fake.fault("upload_429"):
            reset = time.time() + float(self.fake.retry_after)
            self.send_json(
                429,
                {"status": 429, "message": "rate limited"},
                {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(int(reset) + (reset > int(reset)))},
            )  # fmt: skip
            return
        if dep["submitted"]:  # invenio-files-rest BucketLockedError
            self.error(403, "Bucket is locked for modifications.")
            return
        if key not in dep["files"] and len(dep["files"]) >= MAX_FILES:
            self.error(400, f"too many files: a record holds at most {MAX_FILES}")
            return
        md5 = hashlib.md5(data).hexdigest()
        dep["files"][key] = {"id": uuid.uuid4().hex, "key": key, "data": data, "md5": md5}
        reported = "0" * 32 if self.fake.fault("upload_bad_md5") else md5
        self.send_json(201, {"key": key, "size": len(data), "checksum": f"md5:{reported}"})

    def delete_bucket(self, bucket: str, key: str) -> None:
        if not self.authorized():
            return
        dep = self.fake.depositions[self.fake.buckets[bucket]]
        if dep["submitted"]:  # invenio-files-rest BucketLockedError
            self.error(403, "Bucket is locked for modifications.")
            return
        dep["files"].pop(key, None)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- records API (public) ---------------------------------------------------------------------

    def published_record(self, record_id: str) -> dict[str, Any] | None:
        dep = self.fake.depositions.get(int(record_id))
        if dep is None or not dep["submitted"]:
            self.error(404, f"record {record_id} not found")
            return None
        return dep

    def get_record(self, record_id: str) -> None:
        if not (dep := self.published_record(record_id)):
            return
        base = f"{self.fake.file_links_base or self.fake.api}/records/{record_id}/files"
        files = [
            {
                "key": e["key"],
                "size": len(e["data"]),
                "checksum": f"md5:{e['md5']}",
                "links": {"self": f"{base}/{e['key']}/content"},
            }
            for e in dep["files"].values()
        ]
        concept = dep["conceptrecid"]
        self.send_json(
            200,
            {
                "id": dep["id"],
                "doi": dep["doi"],
                "conceptrecid": str(concept),
                "conceptdoi": f"10.5072/zenodo.{concept}",
                "files": files,
                "links": {"self": f"{self.fake.api}/records/{dep['id']}"},
            },
        )

    def get_latest(self, record_id: str) -> None:
        latest = self.fake.latest_of(int(record_id))
        if latest is None:
            self.error(404, f"record {record_id} not found")
            return
        self.send_response(302)
        self.send_header("Location", f"{self.fake.api}/records/{latest['id']}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def get_content(self, record_id: str, key: str) -> None:
        if not (dep := self.published_record(record_id)):
            return
        restricted = dep["metadata"].get("access_right") in ("restricted", "closed")
        if restricted and self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            self.error(403, "You do not have permission to access this file.")
            return
        entry = dep["files"].get(key)
        if entry is None:
            self.error(404, f"file {key} not found")
            return
        data = entry["data"]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            self.fake.range_starts.append(start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if len(body) > 100_000 and self.fake.fault("download_drop"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


ROUTES = (
    (r"/api/deposit/depositions", "post_create"),
    (r"/api/deposit/depositions", "get_list"),
    (r"/api/deposit/depositions/(\d+)", "get_deposition"),
    (r"/api/deposit/depositions/(\d+)", "put_deposition"),
    (r"/api/deposit/depositions/(\d+)/files", "get_files"),
    (r"/api/deposit/depositions/(\d+)/files/([^/]+)", "delete_file"),
    (r"/api/deposit/depositions/(\d+)/actions/publish", "post_publish"),
    (r"/api/deposit/depositions/(\d+)/actions/newversion", "post_newversion"),
    (r"/api/files/([0-9a-f]+)/([^/]+)", "put_bucket"),
    (r"/api/files/([0-9a-f]+)/([^/]+)", "delete_bucket"),
    (r"/api/records/(\d+)", "get_record"),
    (r"/api/records/(\d+)/versions/latest", "get_latest"),
    (r"/api/records/(\d+)/files/([^/]+)/content", "get_content"),
)
