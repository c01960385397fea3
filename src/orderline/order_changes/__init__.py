"""Edits after payment (order changes): add, remove or change the lines of a paid, unshipped
order; the difference is refunded, or asked of the buyer as a payment request with a deadline
whose added stock is held until it is paid (then the change applies) or lapses."""
