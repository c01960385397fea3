"""Returns and exchanges (RMA): a buyer or the merchant asks to return shipped units with a
reason and photos; the merchant approves or rejects, receives the units (restocked at a
location, or written off as damaged: each a stock ledger movement) and refunds their share
of the order, less the business's restocking fee."""
