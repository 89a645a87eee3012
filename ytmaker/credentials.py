"""Fill provider secrets that the environment does not set from the Prefect credentials block.

The environment always wins; the block only fills gaps. The block is read once per process
and only when a cloud provider is built.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from pydantic import SecretStr

from ytmaker.settings import Settings

log = logging.getLogger("ytmaker.credentials")
_cache: dict[str, dict[str, SecretStr]] = {}
_lock = threading.Lock()


def _block_values(name: str) -> dict[str, SecretStr]:
    with _lock:
        if name not in _cache:
            values: dict[str, SecretStr] = {}
            try:
                from blocks.credentials import YtmakerCredentials

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
    from blocks.credentials import FIELDS

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
    from blocks.credentials import FIELDS, YtmakerCredentials
    from ytmaker.settings import get_settings

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
