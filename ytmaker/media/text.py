"""Text handling shared by the script writer, narration, subtitles and drawings:
sentence splitting, CJK-aware wrapping, and finding a font that has the glyphs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from ytmaker.core.errors import MediaToolError

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
# A sentence ends at CJK full stops (no space needed) or at .!? followed by space/end.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.](?=\s))|\n+")
_CLAUSE_BREAK = re.compile(r"(?<=[，、,：:])")


def is_cjk(text: str) -> bool:
    """True when most letters are CJK (then wrapping may break between any characters)."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return False
    return sum(bool(_CJK.match(c)) for c in letters) * 2 >= len(letters)


def spoken_length(text: str) -> float:
    """Rough speaking units: CJK characters count one each, other words one each."""
    cjk = len(_CJK.findall(text))
    words = len(re.findall(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*", _CJK.sub(" ", text)))
    return cjk + words


_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Prof.", "vs.", "e.g.", "i.e.", "etc.", "No.")


def _raw_sentences(text: str) -> list[str]:
    pieces: list[str] = []
    for raw in _SENTENCE_END.split(text):
        if pieces and pieces[-1].rstrip().endswith(_ABBREVIATIONS) and raw.strip():
            pieces[-1] = pieces[-1] + raw
        else:
            pieces.append(raw)
    return pieces


def split_sentences(text: str, max_units: float = 40) -> list[str]:
    """Split into sentences; a sentence longer than ``max_units`` is split at clauses."""
    out: list[str] = []
    for raw in _raw_sentences(text):
        sentence = raw.strip()
        if not sentence:
            continue
        if spoken_length(sentence) <= max_units:
            out.append(sentence)
            continue
        current = ""
        for clause in _CLAUSE_BREAK.split(sentence):
            if current and spoken_length(current + clause) > max_units:
                out.append(current.strip())
                current = ""
            current += clause
        if current.strip():
            out.append(current.strip())
    return out


def _tokens(text: str) -> list[str]:
    """Units that may not be broken: single CJK characters, or words with trailing spaces."""
    return re.findall(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+\s*|\s+", text)


_NO_LINE_START = set("，。、；：？！」』）》,.;:?!)")


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Wrap to lines no wider than ``max_width`` pixels; CJK breaks between characters,
    other scripts between words; punctuation never starts a line."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        candidate = current + token
        if current and font.getlength(candidate.rstrip()) > max_width and token.strip():
            if token[0] in _NO_LINE_START:
                # Keep punctuation with the previous character.
                current = candidate
                continue
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip():
        lines.append(current.rstrip())
    # A single word wider than the line is split by characters. Punctuation attached above
    # may overhang the width: it never moves to a line of its own.
    fixed: list[str] = []
    for line in lines:
        while len(line) > 1 and font.getlength(_without_trailing_punctuation(line)) > max_width:
            cut = len(line) - 1
            while cut > 1 and font.getlength(line[:cut]) > max_width:
                cut -= 1
            while cut < len(line) and line[cut] in _NO_LINE_START:
                cut += 1
            if cut >= len(line):
                break
            fixed.append(line[:cut])
            line = line[cut:]
        fixed.append(line)
    return fixed


def _without_trailing_punctuation(line: str) -> str:
    end = len(line)
    while end > 1 and line[end - 1] in _NO_LINE_START:
        end -= 1
    return line[:end]


_FALLBACK_FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 3),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 3),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
]


def cjk_font_file(bold: bool = True) -> tuple[str, int]:
    """The font file (and face index) captions are drawn with: ``YTMAKER_FONT_FILE`` when set,
    else a system font that covers Traditional Chinese and Latin."""
    from ytmaker.core.settings import get_settings

    settings = get_settings()
    if settings.font_file is not None:
        if not settings.font_file.is_file():
            raise MediaToolError(
                f"YTMAKER_FONT_FILE={settings.font_file} does not exist.",
                details={"field": "YTMAKER_FONT_FILE", "value": str(settings.font_file)},
            )
        return str(settings.font_file), settings.font_index
    return _system_cjk_font(bold)


@lru_cache(maxsize=4)
def _system_cjk_font(bold: bool) -> tuple[str, int]:
    if shutil.which("fc-match"):
        pattern = "Noto Sans CJK TC:bold" if bold else "Noto Sans CJK TC"
        result = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}", pattern], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and "|" in result.stdout:
            path, index = result.stdout.rsplit("|", 1)
            if "CJK" in path or "wqy" in path.lower():
                return path, int(index or 0)
    for path, index in _FALLBACK_FONTS:
        if Path(path).exists():
            return path, index
    raise MediaToolError(
        "No CJK font found: install fonts-noto-cjk or fonts-wqy-microhei (make setup does this).",
        details={"looked_for": [p for p, _ in _FALLBACK_FONTS]},
    )


def load_font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    path, index = cjk_font_file(bold)
    return _load_font(path, index, size)


@lru_cache(maxsize=32)
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


def font_identity() -> list[tuple[str, int, int, int]]:
    """(file, face index, size, mtime) of the fonts captions are drawn with: choosing another
    font (``YTMAKER_FONT_FILE``) or upgrading the font package changes it."""
    identity = []
    for bold in (True, False):
        path, index = cjk_font_file(bold)
        stat = os.stat(path)
        identity.append((path, index, stat.st_size, stat.st_mtime_ns))
    return identity
