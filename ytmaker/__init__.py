"""ytmaker core: plain, typed functions that do the real work, with no Prefect in them.

Prefect lives in ``flows/`` and ``tasks/``; the data layer in ``data/``.
"""
