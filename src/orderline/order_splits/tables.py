"""The links between orders that a split or a merge leaves (``docs/guides/order-splits.md``).

The table itself is defined with the orders' tables (``orders.tables.OrderLink``): the
payments, cancellations and returns read a split's money share from it, and they sit below
this capability. It is named here again for the capability's own store.
"""

from __future__ import annotations

from orderline.orders.tables import OrderLink

__all__ = ["OrderLink"]
