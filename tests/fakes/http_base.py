"""What every fake API server shares: a threaded HTTP server on 127.0.0.1 (a free port) in a
daemon thread, its start/stop lifecycle, and how a reply body goes on the wire.

A fake subclasses ``FakeServer`` and names its request handler class in ``handler``; each
handler instance reaches its fake as ``self.fake``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # noqa: ANN001 - a client that hung up is not a failure
        pass


class FakeServer:
    handler: type[BaseHTTPRequestHandler]
    name = "fake-api"

    def _init_server(self) -> None:
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self):  # noqa: ANN201 - returns the subclass
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):  # noqa: ANN204
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake server is not running"
        return self._server.server_address[1]


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    binary_type = "application/octet-stream"  # Content-Type of a bytes body without one

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def send_body(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """dict/list as JSON, str as text, bytes as they are (``Content-Type`` from ``headers``
        when given). A client that hung up meanwhile is ignored."""
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            data, ctype = json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=UTF-8"
        elif isinstance(body, str):
            data, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = body or b"", self.binary_type
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), ctype)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                if name.lower() != "content-type":
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass
