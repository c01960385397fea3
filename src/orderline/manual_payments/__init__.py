"""Bank and e-wallet transfers: methods, order references, proofs of payment, OCR scoring, the
verification queue and retention.
"""
