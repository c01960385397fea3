"""The demo shop that ``orderline demo`` loads."""
