"""Partial cancellation: cancel some units of an order (or whole lines) before it ships."""
