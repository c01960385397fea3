"""Proof files: cleaning uploads, sealed (encrypted) storage on a folder or S3, and reading them
with OCR.
"""
