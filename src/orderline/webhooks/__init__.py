"""Merchant webhook endpoints: Standard Webhooks signing, delivery with backoff, replay and auto-
disable.
"""
