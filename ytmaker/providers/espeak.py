"""Offline speech with espeak-ng: Mandarin and English voices, WAV out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ytmaker.core.errors import MediaToolError

VOICES = {"zh": "cmn", "en": "en-us"}


def voice_for(language: str) -> str:
    key = "zh" if language.lower().startswith(("zh", "cmn")) else "en"
    return VOICES[key]


class EspeakSynthesizer:
    def __init__(self, speed_wpm: int = 175):
        self.binary = shutil.which("espeak-ng")
        self.speed = speed_wpm

    def synthesize(self, text: str, language: str, out_path: Path) -> Path:
        if not self.binary:
            raise MediaToolError("espeak-ng is not installed: run `make setup` (apt-get install espeak-ng).")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        # Text goes through stdin so that a sentence starting with "-" is not read as a flag.
        result = subprocess.run(
            [self.binary, "-v", voice_for(language), "-s", str(self.speed), "-w", str(out_path)],
            input=text.encode("utf-8"),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0 or not out_path.exists():
            raise MediaToolError(
                f"espeak-ng failed for {text[:40]!r}: {result.stderr.decode(errors='replace')[-300:]}",
                details={"voice": voice_for(language)},
            )
        return out_path
