"""The ``orderline`` command line."""
