"""Personal data: export of what is held about a customer, and erasure."""
