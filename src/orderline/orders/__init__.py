"""The order: placing one, its status table and transitions, numbering, history, buyer access
tokens and customers.
"""
