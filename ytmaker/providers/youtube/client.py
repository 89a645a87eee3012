"""The YouTube Data API v3 client, pointed at one base URL.

google-api-python-client builds media-upload URLs from the discovery document's ``rootUrl``
(``{rootUrl}upload/{servicePath}{path}``), not from ``client_options.api_endpoint``: with
only ``api_endpoint`` set, uploads would still go to the real host (only the host name is
swapped, the scheme and any path prefix are not). So the bundled static discovery document
is loaded and its ``rootUrl``/``baseUrl``/``mtlsRootUrl`` are rewritten to the base URL
before ``build_from_document``: every request — metadata, session creation, chunk PUTs,
thumbnails — goes there.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document

from ytmaker.providers.errors import ProviderError

PROVIDER = "YOUTUBE"
DEFAULT_BASE_URL = "https://www.googleapis.com/"


def discovery_document(base_url: str) -> dict[str, Any]:
    text = discovery_cache.get_static_doc("youtube", "v3")
    if not text:  # pragma: no cover - the document ships with google-api-python-client
        raise ProviderError(PROVIDER, "INVALID_RESPONSE", "google-api-python-client has no static youtube v3 discovery document")
    doc = json.loads(text)
    # Media-upload URLs are built from rootUrl (+ "upload/" + servicePath + path), not
    # from api_endpoint; point everything at the configured base URL.
    doc["rootUrl"] = base_url
    doc["mtlsRootUrl"] = base_url
    doc["baseUrl"] = base_url + doc.get("servicePath", "")
    return doc


def build_service(creds: Credentials, base_url: str, timeout: float) -> Any:
    """A ``youtube`` v3 service on an authorised httplib2 connection of its own."""
    http = httplib2.Http(timeout=timeout)
    # 308 is "Resume Incomplete" in resumable uploads, not a redirect to follow.
    http.redirect_codes = set(http.redirect_codes) - {308}
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    return build_from_document(discovery_document(base_url), http=authed, client_options={"api_endpoint": base_url})


def service_credentials(service: Any) -> Credentials:
    """The credentials the service's connection holds (refreshed by google-auth after a 401)."""
    return service._http.credentials


def close_service(service: Any) -> None:
    with contextlib.suppress(Exception):
        service._http.close()
