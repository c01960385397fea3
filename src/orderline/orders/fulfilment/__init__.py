"""Shipments: an order sent in one or more parcels, each from a location, with its tracking."""
