"""Carts, checkouts that hold stock, the confirm that turns one into an order, and orders typed
in by the merchant (``POST /v1/orders``, cash on delivery included).
"""
