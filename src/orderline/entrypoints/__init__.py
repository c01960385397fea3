"""Thin entry points: HTTP API, CLI, worker."""
