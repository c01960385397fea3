"""Idempotency keys for every creating request: a request sent again with the same
``Idempotency-Key`` and the same body gets the first answer again instead of a second effect;
the same key with another body (or on another endpoint) is refused, and a request still
running is answered ``request_in_progress``. Keys are scoped per business and kept for
``ORDERLINE_IDEMPOTENCY_TTL_HOURS``.

It sits just above ``core`` (it knows no capability), so every capability's use cases and
routes may use it: the order, the checkout confirm, payments and refunds, stock adjustments and
payment proofs.
"""
