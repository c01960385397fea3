"""The one pricing engine: lines, coupons, shipping and tax to totals, in integer minor units.
Pure: no I/O.
"""
