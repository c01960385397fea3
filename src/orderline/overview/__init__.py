"""The merchant's overview: one answer for the console's dashboard, composed of the
capabilities' own figures (sales and the checkout funnel from orders, proofs waiting from
manual payments, low stock from the catalog, webhook and outbox health), by UTC day."""
