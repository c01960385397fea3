"""Test support: real servers and databases, found or started for the run."""
