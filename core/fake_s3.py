"""A fake S3-compatible server for the tests: enough of S3 for boto3 to keep checkpoints in it.

It speaks S3's REST protocol on loopback, path-style (`/bucket/key`): create a
bucket, PUT an object (honouring `If-None-Match: *` with 412 PreconditionFailed,
S3's conditional write, so nothing is overwritten), GET or HEAD it, and list a
bucket (ListObjectsV2). It does not check signatures or credentials. Like
providers/fake_openai.py, it stands in for an outside service; the application
never imports it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape


@dataclass
class StoredObject:
    body: bytes
    etag: str
    modified: datetime


@dataclass
class FakeS3:
    buckets: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def objects(self, bucket: str) -> dict[str, bytes]:
        """What a bucket holds, key by key (for assertions)."""
        with self.lock:
            return {key: stored.body for key, stored in self.buckets.get(bucket, {}).items()}


def _error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    ).encode()


def _decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an `aws-chunked` body (size;chunk-signature CRLF data CRLF ..., then trailers)."""
    data, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        data, rest = data + rest[:size], rest[size + 2 :]
    return data


class _Handler(BaseHTTPRequestHandler):
    state: FakeS3
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:
        return None

    def _where(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        bucket, _, key = parts.path.lstrip("/").partition("/")
        return unquote(bucket), unquote(key), parse_qs(parts.query)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "aws-chunked" in (self.headers.get("Content-Encoding") or ""):
            body = _decode_aws_chunked(body)
        return body

    def do_PUT(self) -> None:
        bucket, key, _query = self._where()
        body = self._body()
        with self.state.lock:
            if not key:
                self.state.buckets.setdefault(bucket, {})
                return self._send(200)
            objects = self.state.buckets.get(bucket)
            if objects is None:
                return self._send(404, _error("NoSuchBucket", f"The bucket {bucket} does not exist."))
            if self.headers.get("If-None-Match") == "*" and key in objects:
                return self._send(
                    412, _error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
                )
            etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
            objects[key] = StoredObject(body=body, etag=etag, modified=datetime.now(tz=UTC))
        self._send(200, headers={"ETag": etag})

    def do_GET(self) -> None:
        bucket, key, query = self._where()
        with self.state.lock:
            objects = self.state.buckets.get(bucket)
            if objects is None:
                return self._send(404, _error("NoSuchBucket", f"The bucket {bucket} does not exist."))
            if not key:
                return self._send(200, self._listing(bucket, objects, query), {"Content-Type": "application/xml"})
            stored = objects.get(key)
        if stored is None:
            return self._send(404, _error("NoSuchKey", "The specified key does not exist."))
        self._send(
            200,
            stored.body,
            {
                "ETag": stored.etag,
                "Last-Modified": format_datetime(stored.modified, usegmt=True),
                "Content-Type": "application/octet-stream",
            },
        )

    do_HEAD = do_GET

    @staticmethod
    def _listing(bucket: str, objects: dict[str, StoredObject], query: dict[str, list[str]]) -> bytes:
        prefix = query.get("prefix", [""])[0]
        keys = sorted(k for k in objects if k.startswith(prefix))
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key>"
            f"<LastModified>{objects[k].modified.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</LastModified>"
            f"<ETag>{escape(objects[k].etag)}</ETag><Size>{len(objects[k].body)}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k in keys
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}</KeyCount>"
            f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
        ).encode()


def serve(state: FakeS3, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `state` on loopback in a background thread; port 0 picks a free port."""
    handler = type("FakeS3Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-s3", daemon=True)
    thread.start()
    return server, thread
