"""What a step's output depends on besides its arguments: code, settings, fonts.

A cached result may be reused only when everything that shaped it is unchanged. The
arguments are hashed by Prefect; this module describes the rest as plain data so that one
place (``tasks/caching.py``) can put it into the key:

* ``code_digest(modules)``: the source of the named modules and of every ``ytmaker`` module
  they import, directly or not (read from the files, so the digest is the same in every
  process). Modules that cannot change an output are left out (``NEUTRAL_MODULES``);
* ``setting_values(names)``: the values of the named settings (never secrets);
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ytmaker.core.settings import Settings

PACKAGE = "ytmaker"
# Imported almost everywhere but never decide what a step makes: configuration (the values
# that matter are keyed by value), error types, the provider registry and its credential
# lookup and API-key checks, HTTP plumbing (timeouts, retries), the quota ledgers, progress
# publishing.
NEUTRAL_MODULES = frozenset({
    "ytmaker",
    "ytmaker.core.settings",
    "ytmaker.core.errors",
    "ytmaker.providers",
    "ytmaker.providers.errors",
    "ytmaker.providers.http",
    "ytmaker.providers.keys",
    "ytmaker.providers.google_errors",
    "ytmaker.providers.youtube.errors",
    "ytmaker.providers.youtube.retry",
    "ytmaker.providers.youtube.ledger",
    "blocks.credentials",
    "ytmaker.runtime.progress_bus",
    "ytmaker.runtime.quota",
    "ytmaker.core.fingerprint",
})


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # "module.name": a name imported from a module
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(name: str, source: str) -> set[str]:
    """``ytmaker`` modules imported by a module (absolute imports; relative are not used here)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from ytmaker.media.drawing import avatar`` imports a module, not a name
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


# Parallel steps compute their keys at once, and CPython 3.11's ``ast.parse`` is not safe to
# run in two threads together (seen: "SystemError: AST constructor recursion depth
# mismatch", after which Prefect silently stores no result). One thread reads the code.
_reading = threading.Lock()


def module_closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """The modules ``roots`` are made of: themselves and every non-neutral ytmaker module
    they reach through imports, sorted."""
    with _reading:
        return _module_closure(roots)


@lru_cache(maxsize=None)
def _module_closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or (name in NEUTRAL_MODULES and name not in roots):
            continue
        path = _module_file(name)
        if path is None:
            continue  # a name imported from a module, not a module
        seen.add(name)
        todo.extend(_imports(name, path.read_text(encoding="utf-8")))
    return tuple(sorted(seen))


def code_digest(roots: tuple[str, ...]) -> str:
    """SHA-256 of the source of ``module_closure(roots)``; computed once per process."""
    with _reading:
        return _code_digest(roots)


@lru_cache(maxsize=None)
def _code_digest(roots: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in _module_closure(roots):
        path = _module_file(name)
        assert path is not None
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def setting_values(settings: Settings, names: Iterable[str]) -> dict[str, Any]:
    """The named settings as JSON-friendly values. Secrets are refused: they must never be
    part of a key (keys are file names in the result storage)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(settings, name)
        if type(value).__name__ == "SecretStr":
            raise ValueError(f"setting {name} is a secret and cannot be part of a cache key")
        values[name] = str(value) if isinstance(value, Path) else value
    return values
