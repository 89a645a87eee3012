"""Runtime services shared by runs: progress bus, liveness beats, quota ledger, the run job. Plain Python (Redis, the database), no Prefect."""
