"""Content hashes: cache keys come from what a file holds, never from where it is."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_known: dict[tuple[str, int, int, int, int], str] = {}


def current_sha256(path: Path) -> str | None:
    """The file's SHA-256 now, or None when it is missing. Remembered per (size, mtime,
    ctime, inode), which any rewrite or replacement changes, so checking a cached result's
    files again in the same process costs a stat."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    identity = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    digest = _known.get(identity)
    if digest is None:
        digest = _known[identity] = file_sha256(Path(path))
    return digest
