"""Businesses, their channels and locations, API keys and scopes: who is calling, and for which
business.
"""
