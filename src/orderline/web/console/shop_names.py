"""What the console calls a business's channels and manual payment methods: their names (as
the merchant set them: "WhatsApp", "BCA transfer"), not their codes, wherever an order or a
figure names one. Read once per page, through the use cases the settings pages use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderline.core.runtime import Runtime
from orderline.manual_payments import methods as manual_methods
from orderline.tenancy import service as tenancy
from orderline.tenancy.rules import Principal


@dataclass(frozen=True, slots=True)
class ShopNames:
    channels: list[dict[str, Any]]  # as tenancy.list_channels answers
    manual_methods: list[dict[str, Any]]  # as manual_payments.methods.list_methods answers

    def channel(self, code: str) -> str:
        return next((str(c["name"]) for c in self.channels if c["code"] == code), code)

    def method(self, code: str) -> str | None:
        """A manual method's name; None for the built-in ones (card, cash on delivery), which
        the pages name in the reader's language."""
        return next((str(m["name"]) for m in self.manual_methods if m["code"] == code), None)


async def shop_names(runtime: Runtime, principal: Principal) -> ShopNames:
    return ShopNames(channels=await tenancy.list_channels(runtime, principal),
                     manual_methods=await manual_methods.list_methods(runtime, principal))
