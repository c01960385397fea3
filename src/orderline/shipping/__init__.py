"""Shipping zones, methods and tax rates, and the address checks that use them."""
