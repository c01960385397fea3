"""Orderline: order management and checkout for merchants selling on several channels."""

__version__ = "0.1.0"
