"""Hard limits of the platform, the same for every business: a business's own settings
(maximum order total, maximum line quantity) are chosen within them."""

from __future__ import annotations

MAX_LINE_QUANTITY = 10_000
# The largest amount a payment may name (the API's cap on minor units); a bigger total could
# never be paid, and would overflow the 64-bit columns that store totals.
MAX_ORDER_TOTAL = 10**15
