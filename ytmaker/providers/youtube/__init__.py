"""YouTube publisher: a resumable ``videos.insert`` upload, then ``thumbnails.set``.

A real client of the YouTube Data API v3 through google-api-python-client, with OAuth user
credentials from an *authorized-user* token file (``YOUTUBE_TOKEN_FILE``; see
``scripts/youtube_token.py``). Returns the same :class:`Publication` shape as the local
target. Never a duplicate video: an upload record per project, at the path the publish
request names, is written at each step, and a session is resumed, never replaced, while the
server knows it.

One module per part:

* ``publisher``: :class:`YouTubePublisher`, the steps of a publish and ``channel()``;
* ``record``: the upload record (the idempotence file) and its lock;
* ``upload``: the resumable upload session (create, query, resume, send the chunks);
* ``retry``: the one retry policy (5xx and connection errors, bounded backoff);
* ``errors``: YouTube's replies as ``YOUTUBE_*`` :class:`ProviderError` codes;
* ``oauth``: the token file: read, refresh, save back, scrub secrets;
* ``client``: the API client pointed at ``YOUTUBE_BASE_URL`` (uploads included);
* ``metadata``: the video's snippet and status, fitted to YouTube's limits;
* ``ledger``: the daily quota and the ledger of units spent (``youtube_api_calls``);
* ``files``: atomic private files and a lock file.

Daily quota (on for the pipeline's publisher built by ``from_settings``): before a publish
that needs a new insert and/or a thumbnail, the units they cost are checked against what is
left of today's 10,000 (the day starts at midnight Pacific time); if they would not fit,
nothing is sent and ``YOUTUBE_QUOTA_EXCEEDED`` is raised (not retried by the task).
``video_flow`` then waits for the reset (see ``flows/quota_wait.py``). A quota refusal from
the API is handled the same.
"""

from __future__ import annotations

from ytmaker.providers.youtube.client import DEFAULT_BASE_URL
from ytmaker.providers.youtube.ledger import DAILY_YOUTUBE_UNITS, YOUTUBE_UNITS
from ytmaker.providers.youtube.metadata import EDUCATION_CATEGORY
from ytmaker.providers.youtube.oauth import SCOPES
from ytmaker.providers.youtube.publisher import PROVIDER, YouTubePublisher
from ytmaker.providers.youtube.retry import DEFAULT_RETRY_DELAYS
from ytmaker.providers.youtube.upload import CHUNK_GRANULARITY, DEFAULT_CHUNK_SIZE

__all__ = [
    "CHUNK_GRANULARITY", "DAILY_YOUTUBE_UNITS", "DEFAULT_BASE_URL", "DEFAULT_CHUNK_SIZE", "DEFAULT_RETRY_DELAYS",
    "EDUCATION_CATEGORY", "PROVIDER", "SCOPES", "YOUTUBE_UNITS", "YouTubePublisher",
]

from ytmaker.providers import register  # noqa: E402

register("publish", "youtube", YouTubePublisher.from_settings)
