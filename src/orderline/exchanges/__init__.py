"""Exchanges: shipped units traded back for a replacement order (docs/guides/returns.md)."""
