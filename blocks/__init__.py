"""Prefect blocks for provider credentials.

The offline pipeline needs none. Credential blocks for the cloud providers (Gemini, Google
TTS, Stability AI, D-ID, YouTube) belong here; they are not written yet.
"""
