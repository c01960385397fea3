"""Coupons: their rules, limits and uses."""
