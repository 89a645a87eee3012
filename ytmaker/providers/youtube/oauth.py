"""OAuth user credentials from an *authorized-user* token file (``YOUTUBE_TOKEN_FILE``).

The file is read with ``Credentials.from_authorized_user_file``; an expired or missing
access token is refreshed up front and written back (atomically, mode 0600), as is one
google-auth refreshes mid-run after a 401. google-auth ignores the file's ``token_uri``;
it is honoured here only when it is Google's token endpoint or on the ``YOUTUBE_BASE_URL``
host (a proxy, the fake server in tests). Access tokens, the refresh token and the client
secret are scrubbed from every message (:meth:`TokenFile.redact`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import google.auth.exceptions
from google.auth.transport.requests import Request as RefreshRequest
from google.oauth2.credentials import Credentials

from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube.files import write_atomic

PROVIDER = "YOUTUBE"
SCOPES = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
]

_GOOGLE_TOKEN_HOSTS = frozenset({"oauth2.googleapis.com", "accounts.google.com", "www.googleapis.com"})
# Google access tokens (ya29.), refresh tokens (1//) and anything after "Bearer ".
_TOKEN_PATTERN = re.compile(r"(Bearer\s+|\bya29\.|\b1//)[A-Za-z0-9._~+/=-]+")

log = logging.getLogger(__name__)


class TokenFile:
    """The token file of one publisher, the credentials read from it, the secrets seen."""

    def __init__(self, path: Path | str, base_url: str):
        self.path = Path(path).expanduser()
        self.base_url = base_url  # a token_uri on this host is trusted
        self._secrets: set[str] = set()
        self._creds: Credentials | None = None
        self._saved_token: str | None = None

    def credentials(self) -> Credentials:
        """Read the token file; refresh (and save) the access token when it is not valid."""
        if not self.path.is_file():
            raise ProviderError(PROVIDER, "AUTH", f"YOUTUBE_TOKEN_FILE {self.path} does not exist")
        try:
            creds = Credentials.from_authorized_user_file(str(self.path), scopes=SCOPES)
            file_token_uri = json.loads(self.path.read_text(encoding="utf-8")).get("token_uri")
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            raise ProviderError(
                PROVIDER, "AUTH", f"YOUTUBE_TOKEN_FILE {self.path} is not an authorized-user token file ({type(exc).__name__})"
            ) from None
        # Recent google-auth (2.62 here) ignores the file's token_uri and refreshes at Google's
        # endpoint, so that a planted token file cannot send the refresh token and client
        # secret elsewhere. The file's token_uri is honoured only when it is Google's or on the
        # configured API host (YOUTUBE_BASE_URL: a proxy, or the fake server in tests).
        if file_token_uri and file_token_uri != creds.token_uri:
            if self.trusted_token_uri(file_token_uri):
                expiry = creds.expiry
                creds = creds.with_token_uri(file_token_uri)
                creds.expiry = expiry  # the copy drops it (and would look forever fresh)
            else:
                log.warning(
                    "ignoring token_uri %s in YOUTUBE_TOKEN_FILE (not Google's and not on YOUTUBE_BASE_URL's host); "
                    "refreshing at %s", file_token_uri, creds.token_uri
                )
        self._creds = creds
        self._remember_secrets(creds)
        self._saved_token = creds.token
        if not creds.valid:  # expired, or no access token yet
            with self.refresh_errors():
                creds.refresh(RefreshRequest())
            self.save_if_changed(creds)
        return creds

    @contextlib.contextmanager
    def refresh_errors(self) -> Iterator[None]:
        """google-auth refresh failures (up front, or mid-upload inside AuthorizedHttp)."""
        try:
            yield
        except google.auth.exceptions.RefreshError as exc:
            raise ProviderError(PROVIDER, "AUTH", f"the token refresh was refused: {self.redact(str(exc))[:300]}") from None
        except google.auth.exceptions.TransportError as exc:
            token_uri = self._creds.token_uri if self._creds is not None else "the token endpoint"
            raise ProviderError(PROVIDER, "CONNECTION", f"token refresh at {token_uri}: {self.redact(str(exc))[:300]}") from None

    def trusted_token_uri(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if parts.scheme == "https" and parts.hostname in _GOOGLE_TOKEN_HOSTS:
            return True
        base = urlsplit(self.base_url)
        return (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)

    def _remember_secrets(self, creds: Credentials) -> None:
        for value in (creds.token, creds.refresh_token, creds.client_secret):
            if value and len(value) >= 6:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        if self._creds is not None:  # google-auth may have refreshed the token on a 401 meanwhile
            self._remember_secrets(self._creds)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _TOKEN_PATTERN.sub(lambda m: m.group(1) + "***", text)

    def save_if_changed(self, creds: Credentials) -> None:
        """Write a refreshed access token back to the token file (atomically, mode 0600)."""
        self._remember_secrets(creds)
        if not creds.token or creds.token == self._saved_token:
            return
        try:
            existing = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(existing, dict):
                existing = {}
        except (OSError, ValueError):
            existing = {}
        existing.update(json.loads(creds.to_json()))
        try:  # through a symlink to its target (e.g. a mounted secret)
            write_atomic(self.path.resolve(), json.dumps(existing, indent=2) + "\n", mode=0o600)
        except OSError as exc:  # a read-only mount: the token in memory still works, the next run refreshes again
            log.warning("could not save the refreshed token to %s: %s", self.path, type(exc).__name__)
            return
        self._saved_token = creds.token
