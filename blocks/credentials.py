"""Provider credentials as a Prefect block, for workers that should not carry a `.env`.

Register and fill it from the current environment with one command:

    GEMINI_API_KEY=... STABILITY_API_KEY=... ytmaker credentials save

Environment variables win over the block: a key set in the environment is used as is; a
key that is not set there is taken from the block (``YTMAKER_CREDENTIALS_BLOCK``,
default ``default``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Optional

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from ytmaker.core.settings import Settings

# Block field -> the setting (and environment variable) it stands in for.
FIELDS = {
    "gemini_api_key": "GEMINI_API_KEY",
    "google_tts_api_key": "GOOGLE_TTS_API_KEY",
    "stability_api_key": "STABILITY_API_KEY",
    "did_api_key": "DID_API_KEY",
    "youtube_token_json": "YOUTUBE_TOKEN_FILE",
}


class YtmakerCredentials(Block):
    """API keys for ytmaker's cloud providers (all optional, all secret)."""

    _block_type_name = "ytmaker-credentials"
    _block_type_slug = "ytmaker-credentials"
    _description = "API keys and the YouTube OAuth token for ytmaker's cloud providers."

    gemini_api_key: Optional[SecretStr] = Field(None, description="Gemini API key")
    google_tts_api_key: Optional[SecretStr] = Field(None, description="Google Cloud Text-to-Speech API key")
    stability_api_key: Optional[SecretStr] = Field(None, description="Stability AI API key")
    did_api_key: Optional[SecretStr] = Field(None, description="D-ID API key")
    youtube_token_json: Optional[SecretStr] = Field(
        None, description="Contents of the authorized-user token file for YouTube"
    )


# ---------------------------------------------------------------- filling settings from the block
# The environment always wins; the block only fills gaps. It is read once per process and
# only when a cloud provider is built.
log = logging.getLogger("ytmaker.credentials")
_cache: dict[str, dict[str, SecretStr]] = {}
_lock = threading.Lock()


def _block_values(name: str) -> dict[str, SecretStr]:
    with _lock:
        if name not in _cache:
            values: dict[str, SecretStr] = {}
            try:
                block = YtmakerCredentials.load(name)
                values = {k: v for k, v in block.model_dump().items() if isinstance(v, SecretStr)}
            except ValueError:
                pass  # no such block: environment only
            except Exception as exc:  # noqa: BLE001 - an unreachable API must not stop local work
                log.warning("Could not read the credentials block %r: %s", name, type(exc).__name__)
            _cache[name] = values
        return _cache[name]


def forget_cached_block() -> None:
    with _lock:
        _cache.clear()


def with_block_credentials(settings: Settings) -> Settings:
    """A copy of ``settings`` whose unset secrets are taken from the credentials block."""
    missing = [f for f in FIELDS if f != "youtube_token_json" and getattr(settings, f) is None]
    need_token = settings.youtube_token_file is None
    if not missing and not need_token:
        return settings
    values = _block_values(settings.credentials_block)
    update: dict = {f: values[f] for f in missing if f in values}
    if need_token and "youtube_token_json" in values:
        # The uploader refreshes the token in place, so it needs a private file.
        path = settings.data_dir / ".secrets" / "youtube_token.json"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written once; after that the uploader keeps it refreshed. A new block replaces it.
        marker = path.with_suffix(".source")
        digest = hashlib.sha256(values["youtube_token_json"].get_secret_value().encode()).hexdigest()
        if not path.exists() or not marker.exists() or marker.read_text() != digest:
            staging = path.with_suffix(".part")
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(values["youtube_token_json"].get_secret_value())
            os.replace(staging, path)
            marker.write_text(digest)
        update["youtube_token_file"] = Path(path)
    return settings.model_copy(update=update) if update else settings


def save_credentials_from_settings(name: str | None = None) -> list[str]:
    """Save the cloud keys set in the environment into the credentials block; returns the
    names of the variables saved (none set: nothing saved)."""
    from ytmaker.core.settings import get_settings

    settings = get_settings()
    values = {f: getattr(settings, f) for f in FIELDS if f != "youtube_token_json" and getattr(settings, f)}
    if settings.youtube_token_file:
        values["youtube_token_json"] = SecretStr(Path(settings.youtube_token_file).read_text(encoding="utf-8"))
    if not values:
        return []
    YtmakerCredentials.register_type_and_schema()
    YtmakerCredentials(**values).save(name or settings.credentials_block, overwrite=True)
    with _lock:
        _cache.clear()
    return [FIELDS[f] for f in values]
