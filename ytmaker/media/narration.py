"""Narration: speak each sentence, align it to whole video frames, mix parts into one track.

Sentences are synthesised one by one so subtitles know exactly when each is spoken; every
sentence (with its pause) is padded to a whole number of frames, so audio and video can
never drift apart.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Protocol, runtime_checkable

from ytmaker.media.ffmpeg import ffmpeg_bin, run_ffmpeg
from ytmaker.core.errors import MediaToolError
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import FPS, Narration, PartAudio, SpokenSentence
from ytmaker.media.text import split_sentences


@runtime_checkable
class SpeechSynthesizer(Protocol):
    """What narration needs of a speech engine (the ``tts`` providers implement it)."""

    def synthesize(self, text: str, language: str, out_path: Path) -> Path:
        """Speak ``text``; write an audio file ffmpeg can read at ``out_path``."""
        ...


SAMPLE_RATE = 22050
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 735: exact at 30 fps
SENTENCE_PAUSE_SECONDS = 0.25


def decode_pcm(path: Path) -> bytes:
    """Any audio file -> mono signed 16-bit PCM at SAMPLE_RATE."""
    try:
        with wave.open(str(path)) as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2):
                return w.readframes(w.getnframes())  # espeak-ng's native format: no decode needed
    except (wave.Error, EOFError):
        pass
    result = subprocess.run(
        [ffmpeg_bin(), "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "pipe:1"],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise MediaToolError(f"could not decode audio {path.name}: {result.stderr.decode(errors='replace')[-300:]}")
    return result.stdout


def write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".wav.part")
    os.close(fd)
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    os.replace(tmp, path)


def _frames_for(samples: int) -> int:
    return -(-samples // SAMPLES_PER_FRAME)


def narrate_part(
    synthesizer: SpeechSynthesizer,
    *,
    part: str,
    text: str,
    language: str,
    out_wav: Path,
    min_seconds: float = 0.0,
) -> PartAudio:
    """Speak one part sentence by sentence into ``out_wav``; pad to at least ``min_seconds``."""
    sentences = split_sentences(text) or [text.strip()]
    pcm = bytearray()
    spoken: list[SpokenSentence] = []
    pause = int(SENTENCE_PAUSE_SECONDS * SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix=f"tts-{part}-") as tmp:
        for i, sentence in enumerate(sentences):
            audio = synthesizer.synthesize(sentence, language, Path(tmp) / f"{i:03d}.audio")
            data = decode_pcm(audio)
            samples = len(data) // 2 + pause
            frames = _frames_for(samples)
            data += b"\x00\x00" * (frames * SAMPLES_PER_FRAME - len(data) // 2)
            spoken.append(SpokenSentence(text=sentence, start_frame=len(pcm) // 2 // SAMPLES_PER_FRAME, frames=frames))
            pcm += data
    total_frames = len(pcm) // 2 // SAMPLES_PER_FRAME
    wanted = round(min_seconds * FPS)
    if total_frames < wanted:
        # Silence at the end of a short segment; its last subtitle stays up meanwhile.
        pcm += b"\x00\x00" * ((wanted - total_frames) * SAMPLES_PER_FRAME)
        spoken[-1] = spoken[-1].model_copy(update={"frames": spoken[-1].frames + wanted - total_frames})
        total_frames = wanted
    write_wav(out_wav, bytes(pcm))
    return PartAudio(
        part=part, path=str(out_wav), sha256=file_sha256(out_wav), frames=total_frames, sentences=spoken
    )


def mix_narration(parts: list[PartAudio], out_mp3: Path) -> Narration:
    """Join the parts in order into one MP3 (the track the video is cut to)."""
    out_mp3.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mix-") as tmp:
        joined = Path(tmp) / "full.wav"
        pcm = bytearray()
        for part in parts:
            pcm += decode_pcm(part.file)
        write_wav(joined, bytes(pcm))
        staging = out_mp3.with_name(out_mp3.name + ".part.mp3")
        run_ffmpeg(["-i", str(joined), "-c:a", "libmp3lame", "-b:a", "128k", str(staging)], what="encoding the narration MP3")
        os.replace(staging, out_mp3)
    return Narration(path=str(out_mp3), sha256=file_sha256(out_mp3), parts=parts)
