"""API keys of the cloud providers: one check, one message, whatever the provider.

The setting that holds a provider's key is named in ``ytmaker.providers.errors.PROVIDERS``
(``GEMINI`` -> ``GEMINI_API_KEY``, read from ``Settings.gemini_api_key``).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from ytmaker.providers.errors import PROVIDERS, ProviderError


def _text(value: SecretStr | str | None) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return (value or "").strip()


def require_key(provider: str, value: SecretStr | str | None) -> str:
    """The key without surrounding blanks; unset or blank is ``{PROVIDER}_AUTH`` naming the
    setting (e.g. ``GEMINI_API_KEY is not set``)."""
    key = _text(value)
    if not key:
        raise ProviderError(provider, "AUTH", f"{PROVIDERS[provider]} is not set")
    return key


def settings_key(settings: Any, provider: str) -> str:
    """The provider's key from ``settings`` (:func:`require_key`)."""
    return require_key(provider, getattr(settings, PROVIDERS[provider].lower()))


def key_is_set(settings: Any, provider: str) -> bool:
    """Whether ``settings`` holds a (non-blank) key for the provider."""
    return bool(_text(getattr(settings, PROVIDERS[provider].lower())))
