"""Benchmarks (``orderline bench ...``): load drivers, raw database phases and reports."""
