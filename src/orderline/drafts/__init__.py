"""Draft orders: an order the merchant builds for a buyer (a chat sale) before the buyer pays,
sent as a link that opens the hosted checkout."""
