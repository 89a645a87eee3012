"""Shared plumbing for providers that speak HTTP with httpx."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

import httpx

from ytmaker.providers.errors import ProviderError, parse_retry_after


def scrub(text: str, secret: str) -> str:
    """``text`` with ``secret`` replaced: services sometimes echo the key back."""
    return text.replace(secret, "***") if secret else text


class PooledHttpClient:
    """One pooled, thread-safe ``httpx.Client`` per provider (building one costs ~50 ms),
    with an explicit timeout; picklable (the client and locks are rebuilt), closable."""

    timeout: float
    # A provider whose key travels in a custom header (not Authorization, which httpx drops
    # on a cross-origin redirect) turns this off, so the key never follows a redirect.
    follow_redirects = True
    _UNPICKLED = ("_client", "_client_lock", "_lock", "request_slot")
    # Held around each request (and only the request: not while a reply is decoded or a file
    # written): whoever runs the provider sets it to what a call must hold, e.g. a turn of a
    # concurrency limit (see ``get_provider(..., request_slot=...)``).
    request_slot: Callable[[], ContextManager[Any]] = staticmethod(nullcontext)  # type: ignore[assignment]

    def _init_http(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._lock = threading.Lock()  # for the provider's own shared state

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout(), follow_redirects=self.follow_redirects)
            return self._client

    def _request_or_raise(self, provider: str, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """Send; a timeout or a transport failure becomes the provider's (retryable) error."""
        try:
            with self.request_slot():
                return self._http().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderError(
                provider, "TIMEOUT", f"{what}: no answer within {self.timeout:g} s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            secret = getattr(self, "_api_key", "")
            raise ProviderError(provider, "CONNECTION", f"{what}: {scrub(f'{type(exc).__name__}: {exc}', secret)}") from None

    def _reply_error(
        self, provider: str, kind: str, detail: str, response: httpx.Response, details: dict[str, Any] | None = None
    ) -> ProviderError:
        """The provider's error for an HTTP error reply: the key scrubbed, Retry-After kept."""
        return ProviderError(
            provider,
            kind,
            scrub(detail, getattr(self, "_api_key", ""))[:600],
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            details=details,
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client = None
        self._client_lock = threading.Lock()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
