"""The order: placing one, its status table and transitions, numbering, history, buyer access
tokens and customers; the overview's sales figures and their daily rollups (``rollups.py``).
"""
