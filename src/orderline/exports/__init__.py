"""CSV exports: orders, order lines, customers, the payment ledger and the stock ledger, as
files a spreadsheet opens (UTF-8 with a byte-order mark, formula-looking cells neutralised),
streamed in keyset-paginated batches read through the capabilities' own list use cases, so an
export takes the list's filters and never holds a whole table in memory."""
