"""The edges: database, gateways, brokers."""
