"""Invoices and packing slips as PDF files."""
