"""The provider a step calls, with its keys: from the environment, else from the Prefect
credentials block (``blocks/credentials.py``). Providers themselves only read settings."""

from __future__ import annotations

from typing import Any

from blocks.credentials import with_block_credentials
from tasks.limits import provider_limits
from ytmaker.core.settings import get_settings
from ytmaker.providers import get_provider


def provider_named(kind: str, name: str) -> Any:
    """Provider ``name`` of ``kind`` (script, tts, image, avatar, publish), whose calls to its
    service hold the kind's turn and any limit across workers (``tasks/limits.py``)."""
    settings = get_settings()
    if name != "local":
        settings = with_block_credentials(settings)
    return get_provider(kind, settings, name, request_slot=lambda: provider_limits(kind, name))
