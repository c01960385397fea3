"""Products, variants, locations, stock levels with time-limited reservations, the stock ledger and
its reconciliation.
"""
