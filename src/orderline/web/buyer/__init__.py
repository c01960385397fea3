"""The buyer's pages: no login, the link carries the cart token (``/c/{token}``, the hosted
checkout) or the order's access token (``/o/{token}``, the order page)."""
