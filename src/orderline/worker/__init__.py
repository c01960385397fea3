"""The background worker: the outbox relay with its handlers, and the periodic jobs (expiries,
deadlines, proofs, retention).
"""
