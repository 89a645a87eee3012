"""Provider registry: the provider of each kind is picked by name from settings.

Cloud providers register under their own names next to ``local``. Every call through a
provider built here is counted in ``provider_calls`` (shown after a run: how much real work
was done, and what a rerun skipped).
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from ytmaker.core.errors import ProviderNotFound
from ytmaker.core.settings import Settings

# What a provider makes (not a pipeline stage: see ytmaker.core.stages).
PROVIDER_KINDS = ("script", "tts", "image", "avatar", "publish")

_factories: dict[tuple[str, str], Callable[[Settings], Any]] = {}
_implementations: dict[tuple[str, str], type] = {}
provider_calls: Counter[str] = Counter()
_lock = threading.Lock()


def register(kind: str, name: str, factory: Callable[[Settings], Any], implementation: type | None = None) -> None:
    """``implementation`` is the provider's class (taken from ``factory`` when that is a
    classmethod such as ``from_settings``): its module and its ``OUTPUT_SETTINGS`` (the
    settings that change what it makes, e.g. a voice or a model) go into cache keys."""
    if kind not in PROVIDER_KINDS:
        raise ValueError(f"unknown provider kind {kind!r}; kinds are {PROVIDER_KINDS}")
    implementation = implementation or getattr(factory, "__self__", None)
    if not isinstance(implementation, type):
        raise ValueError(f"provider {kind}/{name}: name its class (implementation=...)")
    _factories[(kind, name)] = factory
    _implementations[(kind, name)] = implementation


def output_fingerprint(kind: str, name: str, settings: Settings) -> dict[str, Any]:
    """Everything about a provider that shapes its output: its name, its code and the
    settings it declares in ``OUTPUT_SETTINGS``. Part of every cache key of its steps."""
    from ytmaker.core.fingerprint import code_digest, setting_values
    from ytmaker.media.text import font_identity

    _load_builtin()
    implementation = _implementations.get((kind, name))
    if implementation is None:
        get_provider(kind, settings, name)  # raises ProviderNotFound with the choices
        raise AssertionError("unreachable")
    return {
        "provider": name,
        "code": code_digest((implementation.__module__,)),
        "settings": setting_values(settings, getattr(implementation, "OUTPUT_SETTINGS", ())),
        "fonts": font_identity() if getattr(implementation, "DRAWS_TEXT", False) else None,
    }


def available(kind: str) -> list[str]:
    _load_builtin()
    return sorted(name for (s, name) in _factories if s == kind)


class _Counted:
    """Counts calls of the provider's public methods, then delegates; holds ``slot`` around
    each call when the provider has no finer place for it."""

    def __init__(self, kind: str, inner: Any, slot: Callable[[], ContextManager[Any]] = nullcontext):
        self._kind = kind
        self._inner = inner
        self._slot = slot

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if callable(value) and not attr.startswith("_"):
            def counted(*args: Any, **kwargs: Any) -> Any:
                with _lock:
                    provider_calls[self._kind] += 1
                with self._slot():
                    return value(*args, **kwargs)

            return counted
        return value


def provider_name(kind: str, settings: Settings) -> str:
    return getattr(settings, f"{kind}_provider")


def get_provider(
    kind: str, settings: Settings, name: str | None = None, *, request_slot: Callable[[], ContextManager[Any]] | None = None,
) -> Any:
    """Provider ``name`` (default: the one settings choose) of ``kind``. ``request_slot``: what
    each call to the service must hold (a concurrency turn); an HTTP provider holds it around
    each request only, any other around each call."""
    _load_builtin()
    name = name or provider_name(kind, settings)
    factory = _factories.get((kind, name))
    if factory is None:
        env = f"YTMAKER_{kind.upper()}_PROVIDER"
        raise ProviderNotFound(
            f"{env}={name!r} is not a known {kind} provider; choose one of {available(kind)}",
            details={"kind": kind, "provider": name},
        )
    provider = factory(settings)
    if request_slot is not None and hasattr(provider, "request_slot"):
        provider.request_slot = request_slot
        return _Counted(kind, provider)
    return _Counted(kind, provider, request_slot or nullcontext)


_loaded = False
_load_lock = threading.Lock()


def _load_builtin() -> None:
    """Import the provider modules (importing one registers it). Parallel tasks ask at once:
    nobody may look a provider up before every module has registered."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            from ytmaker.providers import did, gemini, google_tts, local, stability, youtube  # noqa: F401

            _loaded = True
