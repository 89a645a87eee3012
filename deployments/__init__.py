"""Deployment helpers. ``prefect.yaml`` declares the deployments; see the README."""
