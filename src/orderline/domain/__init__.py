"""Pure business rules: no database, no web framework, no clock of its own."""
