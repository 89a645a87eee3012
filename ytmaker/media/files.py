"""Writing output files so that nobody ever sees half of one: temp file, then one rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image


@contextmanager
def atomic_output(path: Path, suffix: str) -> Iterator[Path]:
    """Yield a temp path next to ``path`` (parents created); on success it replaces ``path``
    in one rename, so readers never see a half-written file; on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; outputs are meant to be shared
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_png(image: Image.Image, path: Path) -> Path:
    """Write a PNG atomically; fast compression, since default zlib effort costs ~0.75 s per
    1080p frame for a few percent smaller files."""
    with atomic_output(path, ".png") as tmp:
        image.save(tmp, format="PNG", compress_level=1)
    return Path(path)
