"""What every fake API server shares: a threaded HTTP server on 127.0.0.1 (a free port) in a
daemon thread, its start/stop lifecycle, scripted replies (``enqueue``), gates that hold
requests (``hold``), and how a reply body goes on the wire.

A fake subclasses ``FakeServer`` and names its request handler class in ``handler``; each
handler instance reaches its fake as ``self.fake``, and asks ``self.fake.take_reply(method,
path)`` for a scripted reply before answering with the fake's default behaviour.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # noqa: ANN001 - a client that hung up is not a failure
        pass


@dataclass
class Reply:
    """A scripted reply (see ``FakeServer.enqueue``)."""

    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is (see ``QuietHandler.send_body``)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)
    method: str | None = None  # only for requests with this method (None: any)
    path: str | None = None  # only for requests whose path starts with this (None: any)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or path.startswith(self.path))


@dataclass
class Gate:
    """Holds matching requests unanswered: the ``nth`` one and every later one, until
    ``release()`` — so a test can kill its client while the call is in flight."""

    method: str
    path: str
    nth: int = 1
    seen: int = 0
    held: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path.startswith(self.path)

    def wait_held(self, count: int = 1, timeout: float = 600) -> None:
        """Block until ``count`` requests are being held (fails the test after ``timeout``)."""
        import time

        deadline = time.monotonic() + timeout
        while self.held < count:
            assert time.monotonic() < deadline, f"no {count} held {self.method} {self.path} request(s) after {timeout} s"
            self.arrived.wait(0.05)

    def release(self) -> None:
        self.released.set()


class FakeServer:
    handler: type[BaseHTTPRequestHandler]
    name = "fake-api"

    def _init_server(self) -> None:
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._gates: list[Gate] = []
        self._gate_lock = threading.Lock()
        self._script: list[Reply] = []
        self._script_lock = threading.Lock()
        # A fixed service time per path prefix, like a real API's latency (benchmarks), and
        # when each request arrived and was let through it: (method, path, arrived, served).
        self.latency: dict[str, float] = {}
        self.timeline: list[tuple[str, str, float, float]] = []

    # -- scripted replies ---------------------------------------------------------------

    def enqueue(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next request to ``method`` ``path`` (a prefix; None: any) with this instead
        of the default behaviour; queued replies go first, in order. ``delay`` seconds pass
        before the answer. A non-2xx status with no body gets ``error_body(status)``."""
        if body is None and status >= 300:
            body = self.error_body(status)
        with self._script_lock:
            self._script.append(Reply(status, body, dict(headers or {}), delay, method, path))

    def error_body(self, status: int) -> Any:
        """The body of a scripted error reply enqueued without one; None sends an empty body."""
        return None

    def take_reply(self, method: str, path: str) -> Reply | None:
        """The first scripted reply for this request, taken off the script (None: none left)."""
        with self._script_lock:
            for i, reply in enumerate(self._script):
                if reply.matches(method, path):
                    return self._script.pop(i)
        return None

    # -- gates ----------------------------------------------------------------------------

    def hold(self, method: str, path: str, nth: int = 1) -> Gate:
        """Hold the ``nth`` request to ``method`` ``path`` (a prefix) and all later ones."""
        gate = Gate(method, path, nth)
        with self._gate_lock:
            self._gates.append(gate)
        return gate

    def release_all(self) -> None:
        with self._gate_lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release()

    def checkpoint(self, method: str, path: str) -> None:
        """Called by handlers as a request arrives: waits here while a gate holds it."""
        with self._gate_lock:
            holding = []
            for gate in self._gates:
                if gate.matches(method, path) and not gate.released.is_set():
                    gate.seen += 1
                    if gate.seen >= gate.nth:
                        gate.held += 1
                        holding.append(gate)
        arrived = time.time()
        for gate in holding:
            gate.arrived.set()
            while not gate.released.wait(0.05) and not self._stopping.is_set():
                pass
        wait = next((seconds for prefix, seconds in self.latency.items() if path.startswith(prefix)), 0.0)
        if wait:
            self._stopping.wait(wait)
        with self._gate_lock:
            self.timeline.append((method, path, arrived, time.time()))

    def start(self):  # noqa: ANN201 - returns the subclass
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a scripted delay or held by a gate
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
