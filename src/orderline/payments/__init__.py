"""Card payments: intents, the money ledger, providers (sandbox, Stripe), refunds, the saga and
reconciliation.
"""
