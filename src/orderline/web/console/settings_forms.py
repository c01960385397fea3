"""What the settings pages share: the admin gate, reading a posted form into the values a use
case takes, and turning a refusal into errors next to the form's fields.

Reading a form is parsing, not a rule: a number field that is not a number is refused here
with the same ``ValidationFailed`` (naming the field) a use case would raise, so a page shows
both kinds of mistake the same way. What a value may be is the use case's to decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request

from orderline.core.errors import DomainError, ValidationFailed
from orderline.core.http import decode_cursor, encode_cursor
from orderline.core.money import currency_exponent
from orderline.tenancy.rules import Scope
from orderline.web.console.access import ConsoleStaff, ConsoleStaffDep
from orderline.web.pages import FieldError, page_locale
from orderline.web.translations import translations_for


async def admin_staff(staff: ConsoleStaffDep) -> ConsoleStaff:
    """Settings are for owners and admins: anyone else gets the 403 page on every URL."""
    if not staff.may(Scope.ADMIN):
        raise HTTPException(status_code=403)
    return staff


AdminDep = Annotated[ConsoleStaff, Depends(admin_staff)]


def N_(message: str) -> str:
    """Marks a message made here for the catalog (console-settings.po); ``Posted`` translates
    it into the page's language when it is said."""
    return message


@dataclass(frozen=True, slots=True)
class Posted:
    """A posted form: single values as typed, and the lists of repeated fields. ``gettext``
    is the page's language, for the mistakes found while reading it."""
    form: FormData
    gettext: Callable[[str], str]

    def _refuse(self, name: str, message: str, label: str, **values: str) -> ValidationFailed:
        return ValidationFailed(self.gettext(message) % {"label": self.gettext(label), **values},
                                details={"field": name})

    def values(self) -> dict[str, str]:
        """Every field's (first) value, to show the form again as it was sent."""
        return {k: str(v) for k, v in self.form.items() if isinstance(v, str)}

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def checked(self, name: str) -> bool:
        return self.form.get(name) in ("on", "true", "1", "yes")

    def many(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    def lines(self, name: str) -> list[str]:
        """A textarea or a comma list, one value per line or comma."""
        return [part.strip() for part in self.text(name).replace(",", "\n").splitlines()
                if part.strip()]

    def whole(self, name: str, *, label: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise self._refuse(name, N_("%(label)s must be a whole number, such as 15."),
                               label) from None

    def decimal(self, name: str, *, label: str) -> Decimal | None:
        raw = self.text(name).replace(",", ".")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise self._refuse(name, N_("%(label)s must be a number, such as 10 or 12.5."),
                               label)
        return value

    def amount(self, name: str, currency: str, *, label: str) -> int | None:
        """A price typed as the merchant writes it ("12.50") in minor units of ``currency``."""
        raw = self.text(name).replace(" ", "")
        if not raw:
            return None
        exponent = currency_exponent(currency)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        minor = value * (Decimal(10) ** exponent) if value.is_finite() else value
        if not minor.is_finite() or minor != minor.to_integral_value() or minor < 0:
            example = "12" if exponent == 0 else "12." + "5".ljust(exponent, "0")
            raise self._refuse(
                name, N_("%(label)s must be an amount in %(currency)s, such as %(example)s."),
                label, currency=currency, example=example)
        return int(minor)


async def posted(request: Request) -> Posted:
    return Posted(await request.form(), translations_for(page_locale(request)).gettext)


PostedDep = Annotated[Posted, Depends(posted)]


def cursor_of(request: Request) -> tuple[datetime, uuid.UUID] | None:
    """Where a list page starts (``?cursor=``, as the API's lists); a cursor that is not
    one of ours starts at the newest."""
    try:
        return decode_cursor(request.query_params.get("cursor"))
    except ValidationFailed:
        return None


def page_of(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The first ``limit`` of ``limit + 1`` rows read, and the cursor of the next page."""
    page = rows[:limit]
    more = len(rows) > limit
    return page, encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None


def ident(kind: str, raw: str) -> uuid.UUID:
    """An id in a page URL; a malformed one names nothing: the 404 page."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise HTTPException(status_code=404) from None


def refused(error: DomainError) -> HTTPException:
    """A refusal that is about the URL, not the form: another business's id is not found."""
    return HTTPException(status_code=404 if error.code == "not_found" else 409)


def shown_amount(minor: int | None, currency: str) -> str:
    """Minor units as the merchant types them back ("12.50"); "" for none."""
    if minor is None:
        return ""
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def form_status(errors: Sequence[Any]) -> int:
    """A settings form shown again with its errors answers 400; shown plainly, 200."""
    return 400 if errors else 200


def field_errors(error: DomainError | ValidationError, *, fields: Iterable[str],
                 by_code: Mapping[str, str] | None = None,
                 aliases: Mapping[str, str] | None = None) -> list[FieldError]:
    """The refusal as error-summary lines, each next to the form field it is about when the
    error names one of ``fields`` (by ``details.field``, a details key that is a field, or
    ``by_code``: the field an error code is about on this form). ``aliases`` names the form's
    field for a name the use case uses (``reservation_ttl_seconds``: ``reservation_minutes``).
    Another business's id (or none) is not an error of the form: the 404 page."""
    if isinstance(error, DomainError) and error.code == "not_found":
        raise HTTPException(status_code=404)
    known = set(fields)
    aliases = aliases or {}
    if isinstance(error, ValidationError):
        out = []
        for problem in error.errors():
            loc = [aliases.get(str(p), str(p)) for p in problem["loc"]]
            field = next((p for p in loc if p in known), None)
            out.append(FieldError(_plain(problem), field=field))
        return out
    details: dict[str, Any] = {aliases.get(k, k): v for k, v in error.details.items()}
    field = details.get("field")
    if isinstance(field, str):
        field = field.split(".")[0]
        field = aliases.get(field, field)
    if field not in known:
        field = next((k for k in details if k in known), None)
    if field is None and by_code:
        field = by_code.get(error.code)
    return [FieldError(error.message, field=field)]


def _plain(problem: Mapping[str, Any]) -> str:
    name = str(problem["loc"][-1]).replace("_", " ") if problem["loc"] else "This"
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{name.capitalize()}: {message[:1].lower()}{message[1:]}."
