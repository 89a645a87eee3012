"""Core types and settings: what every layer may import. No I/O services, no Prefect."""
