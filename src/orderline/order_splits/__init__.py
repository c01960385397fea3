"""Splitting an order in two, and merging two unpaid orders of one buyer into one."""
