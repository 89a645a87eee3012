"""The provider registry under parallel first use (tasks of one run ask at the same moment)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading
from ytmaker.providers import get_provider
from ytmaker.core.settings import get_settings

settings = get_settings()
start = threading.Barrier(8)
errors = []

def first_use(stage):
    start.wait()
    try:
        get_provider(stage, settings)
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=first_use, args=(s,)) for s in ["image", "tts", "avatar", "script"] * 2]
for t in threads: t.start()
for t in threads: t.join()
print("ERRORS" if errors else "OK", errors)
"""


def test_parallel_first_use_finds_every_provider():
    # A fresh interpreter each time: the race is in the first use only.
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
        assert out.stdout.startswith("OK"), out.stdout + out.stderr
