"""Prefect blocks: provider credentials (``YtmakerCredentials``)."""

from blocks.credentials import YtmakerCredentials

__all__ = ["YtmakerCredentials"]
