"""Prefect tasks, one per pipeline step: thin wrappers over plain functions in ``ytmaker``."""
