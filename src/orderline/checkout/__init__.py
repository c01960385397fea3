"""Carts, checkouts that hold stock, the confirm that turns one into an order, and idempotency
keys.
"""
