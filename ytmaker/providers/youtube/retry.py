"""The one retry policy of the YouTube publisher.

A 5xx reply (500, 502, 503, 504) or a lost connection is tried again — on the same request,
or for an upload on the same session, never as a new ``videos.insert`` — after each of
``delays`` in turn (a server's Retry-After lengthens a pause, up to a minute). When they are
used up, the failure is raised as a (retryable) :class:`ProviderError`. Any other HTTP error
is raised at once.
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httplib2
from googleapiclient.errors import HttpError

from ytmaker.providers.errors import parse_retry_after
from ytmaker.providers.youtube.errors import YouTubeErrors

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
MAX_RETRY_AFTER = 60.0
SERVER_ERRORS = frozenset({500, 502, 503, 504})

# Transport failures worth a retry. OSError is caught, then narrowed by is_transport (a file
# that cannot be read is not a network problem).
TRANSPORT_ERRORS = (OSError, http.client.HTTPException, httplib2.HttpLib2Error)
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENETUNREACH",
                 "ENETDOWN", "ENETRESET", "EHOSTUNREACH", "EHOSTDOWN", "EADDRNOTAVAIL")
    if hasattr(errno, name)
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class ErrorReply(Exception):
    """An HTTP error reply to a request sent without googleapiclient's request objects (which
    raise :class:`HttpError` for theirs): handled the same way."""

    def __init__(self, resp: Any, content: bytes):
        super().__init__(f"HTTP {resp.status}")
        self.resp = resp
        self.content = content


def is_transport(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException, httplib2.HttpLib2Error)):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


class Backoff:
    """A retry budget: one pause per delay, then no more. ``reset`` when work advances."""

    def __init__(self, delays: Sequence[float]):
        self.delays = tuple(delays)
        self.failures = 0

    def pause(self, what: str, resp: Any = None) -> bool:
        """Sleep before the next try and return True, or False when the budget is spent."""
        if self.failures >= len(self.delays):
            return False
        delay = self.delays[self.failures]
        retry_after = parse_retry_after(resp.get("retry-after")) if resp is not None else None
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        self.failures += 1
        log.warning("%s; retry %d/%d in %.1fs", what, self.failures, len(self.delays), delay)
        time.sleep(delay)
        return True

    def reset(self) -> None:
        self.failures = 0


class Retrier:
    """Runs calls under the retry policy; failures become errors made by ``errors``."""

    def __init__(self, delays: Sequence[float], errors: YouTubeErrors):
        self.delays = tuple(float(d) for d in delays)
        self.errors = errors

    def backoff(self) -> Backoff:
        return Backoff(self.delays)

    def run(self, attempt: Callable[[], T], doing: str, *, backoff: Backoff | None = None, retry: bool = True) -> T:
        """``attempt()`` until it returns. It raises :class:`HttpError` (or :class:`ErrorReply`)
        for an HTTP error reply; a 5xx or a transport failure is retried while the
        budget lasts (``backoff``, shared across calls; a fresh one by default; none at all
        with ``retry=False``). Anything else ``attempt`` raises passes through."""
        if backoff is None:
            backoff = Backoff(self.delays if retry else ())
        while True:
            try:
                return attempt()
            except (HttpError, ErrorReply) as exc:
                status = exc.resp.status
                if status in SERVER_ERRORS and backoff.pause(f"HTTP {status} {doing}", exc.resp):
                    continue
                raise self.errors.status(status, exc.content, exc.resp) from None
            except TRANSPORT_ERRORS as exc:
                if not is_transport(exc):
                    raise
                if backoff.pause(f"{type(exc).__name__} {doing}"):
                    continue
                raise self.errors.transport(exc, doing) from None
