"""Manual payments (bank transfers, e-wallets): the method templates a merchant starts from,
reading a receipt's text, and scoring a receipt against what the order expects.

Pure rules: the OCR engine (an adapter) turns an image into text; everything here works on that
text, so it is tested without images. A score is a confidence between 0 and 1 with its reasons;
it helps the merchant's queue, and never moves money by itself unless the business turned
auto-approval on above a threshold.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

from orderline.core.money import currency_exponent

# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MethodTemplate:
    code: str  # e.g. "gcash"
    name: str
    kind: str  # "bank_transfer" | "e_wallet" | "upi"
    country: str  # ISO 3166-1 alpha-2
    currency: str
    fields: tuple[str, ...]  # what the merchant fills in
    instructions: str  # shown to the buyer; {amount} {reference} {account_name} {account_number}


_SEND = ("Send exactly {amount} to {account_name} ({account_number}) and write {reference} "
         "in the message or reference field, then upload a screenshot of the receipt.")

TEMPLATES: tuple[MethodTemplate, ...] = (
    MethodTemplate("gcash", "GCash", "e_wallet", "PH", "PHP",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("maya", "Maya", "e_wallet", "PH", "PHP",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("ph_bank_transfer", "Bank transfer (InstaPay/PESONet)", "bank_transfer",
                   "PH", "PHP", ("bank_name", "account_name", "account_number"), _SEND),
    MethodTemplate("duitnow", "DuitNow", "bank_transfer", "MY", "MYR",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("touch_n_go", "Touch 'n Go eWallet", "e_wallet", "MY", "MYR",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("my_bank_transfer", "Bank transfer (IBG/FPX)", "bank_transfer", "MY", "MYR",
                   ("bank_name", "account_name", "account_number"), _SEND),
    MethodTemplate("esewa", "eSewa", "e_wallet", "NP", "NPR",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("khalti", "Khalti", "e_wallet", "NP", "NPR",
                   ("account_name", "account_number"), _SEND),
    MethodTemplate("np_bank_transfer", "Bank transfer", "bank_transfer", "NP", "NPR",
                   ("bank_name", "account_name", "account_number"), _SEND),
    MethodTemplate("upi", "UPI", "upi", "IN", "INR", ("account_name", "account_number"),
                   "Pay exactly {amount} to the UPI ID {account_number} ({account_name}) with "
                   "{reference} in the note, then upload a screenshot of the confirmation."),
    MethodTemplate("in_bank_transfer", "Bank transfer (IMPS/NEFT)", "bank_transfer", "IN",
                   "INR", ("bank_name", "account_name", "account_number", "ifsc"), _SEND),
)


def templates_for(country: str) -> list[MethodTemplate]:
    """The templates offered for a country (ISO alpha-2, any case); empty if none."""
    wanted = country.strip().upper()
    return [t for t in TEMPLATES if t.country == wanted]


# --- reading a receipt's text ------------------------------------------------------------------

_SYMBOLS = {"PHP": ("PHP", "₱", "P"), "MYR": ("MYR", "RM"), "NPR": ("NPR", "RS", "Rs", "रु"),
            "INR": ("INR", "₹", "RS", "Rs"), "USD": ("USD", "$")}
# 1,250 / 1 250 / 2,49,900 (Indian grouping) / 1250, then optional decimals. A comma before
# exactly two final digits is a decimal point too: OCR of a small screenshot reads "349.99" as
# "349,99" (and "1,250.00" as "1,250,00"), and no grouping ends in two digits.
_NUMBER = (r"(\d{1,3}(?:,\d{2})+,\d{3}|\d{1,3}(?:[,\s]\d{3})+|\d+)"
           r"(?:\.(\d{1,3})|,(\d{2})(?!\d))?")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%b %d, %Y", "%B %d, %Y", "%d %b %Y",
                 "%d %B %Y", "%b %d %Y", "%d-%m-%Y")
_RECIPIENT_LABELS = ("sent to", "send to", "to", "recipient", "account name", "paid to",
                     "receiver", "beneficiary")


@dataclass(frozen=True, slots=True)
class ReceiptReading:
    """What could be read from a receipt (None when not found)."""

    text: str
    amounts: tuple[int, ...] = ()  # every amount in the receipt's currency, minor units
    dates: tuple[date, ...] = ()
    recipient: str | None = None


def _to_minor(whole: str, fraction: str | None, currency: str) -> int | None:
    digits = re.sub(r"[,\s]", "", whole)
    try:
        value = Decimal(f"{digits}.{fraction or '0'}")
    except InvalidOperation:
        return None
    return int(value.scaleb(currency_exponent(currency)).to_integral_value())


def read_receipt(text: str, *, currency: str) -> ReceiptReading:
    """Amounts next to the currency's code or symbol (or after "amount"/"total"), dates in the
    usual formats, and the name after a recipient label."""
    flat = unicodedata.normalize("NFKC", text)
    symbols = "|".join(re.escape(s) for s in _SYMBOLS.get(currency, (currency,)))
    pattern = re.compile(rf"(?:(?:{symbols})\.?\s*{_NUMBER}|"
                         rf"(?:amount|total|paid)\s*:?\s*(?:(?:{symbols})\.?\s*)?{_NUMBER})",
                         re.IGNORECASE)
    amounts = []
    for m in pattern.finditer(flat):
        # Each alternative has (whole, fraction after ".", fraction after ",").
        whole, dot, comma = m.groups()[:3] if m.group(1) else m.groups()[3:]
        minor = _to_minor(whole, dot or comma, currency)
        if minor is not None and minor not in amounts:
            amounts.append(minor)
    return ReceiptReading(text=flat, amounts=tuple(amounts), dates=tuple(_dates(flat)),
                          recipient=_recipient(flat))


def _dates(text: str) -> list[date]:
    found: list[date] = []
    candidates = re.findall(r"\d{4}-\d{2}-\d{2}|\d{1,2}[/-]\d{1,2}[/-]\d{4}|"
                            r"[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]{3,9} \d{4}", text)
    for raw in candidates:
        cleaned = raw.replace(".", "")
        for fmt in _DATE_FORMATS:
            try:
                day = datetime.strptime(cleaned, fmt).date()
            except ValueError:
                continue
            if day not in found:
                found.append(day)
            break
    return found


def _recipient(text: str) -> str | None:
    """The name after a recipient label, on the label's line or the next one."""
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        for label in _RECIPIENT_LABELS:
            m = re.match(rf"{re.escape(label)}\b[\s:.-]*(.*)$", line, re.IGNORECASE)
            if m is None:
                continue
            if m.group(1):
                return m.group(1)
            following = next((later for later in lines[i + 1:] if later), None)
            if following:
                return following
    return None


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    amount: int
    currency: str
    reference: str
    window_start: date  # the order's day, less a day for time zones
    window_end: date  # the proof deadline's day
    account_name: str


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # amount | reference | date | recipient
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ProofScore:
    score: float  # 0..1, a confidence for sorting the queue; never money
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {"score": round(self.score, 3), "checks": [
            {"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]}


WEIGHTS = {"amount": 0.4, "reference": 0.3, "date": 0.15, "recipient": 0.15}


def _squash(value: str) -> str:
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", value).lower())


# References this long may be found with one character misread, added or dropped: OCR reads a
# bold J as ")" and splits a 9 into "9S", while another order's reference differs in nearly
# every character. Shorter ones (typed by a person, e.g. "gift") must match exactly.
FUZZY_REFERENCE_LENGTH = 6


def _reference_edits(reference: str, text: str) -> int | None:
    """0 if the reference stands in the text (ignoring case, spaces and punctuation), 1 if it
    does with one slip and is long enough for that to be safe, else None."""
    wanted, seen = _squash(reference), _squash(text)
    if not wanted:
        return None
    if wanted in seen:
        return 0
    if len(wanted) >= FUZZY_REFERENCE_LENGTH and _edits_to_find(wanted, seen) <= 1:
        return 1
    return None


def _edits_to_find(needle: str, haystack: str) -> int:
    """The fewest substitutions, insertions and deletions that make ``needle`` appear
    somewhere in ``haystack`` (Sellers' approximate substring search: an edit distance in
    which the match may start anywhere)."""
    column = list(range(len(needle) + 1))  # edits for needle[:i] ending at this character
    best = column[-1]
    for char in haystack:
        diagonal, column[0] = column[0], 0
        for i, wanted in enumerate(needle, start=1):
            current = min(column[i] + 1, column[i - 1] + 1, diagonal + (wanted != char))
            diagonal, column[i] = column[i], current
        best = min(best, column[-1])
    return best


def names_match(seen: str, expected: str) -> bool:
    """Close enough for a human name on a receipt: the same letters in order (ignoring case,
    spaces and punctuation) with a small OCR slip, or the expected name's words all present
    (e-wallets often mask or shorten: "JUAN D**A CRUZ")."""
    a, b = _squash(seen), _squash(expected)
    if not a or not b:
        return False
    if SequenceMatcher(None, a, b).ratio() >= 0.85:
        return True
    words = [_squash(w) for w in expected.split() if len(_squash(w)) > 1]
    return bool(words) and all(w in a for w in words)


def score_receipt(reading: ReceiptReading, expected: Expected) -> ProofScore:
    amount_ok = expected.amount in reading.amounts
    reference_edits = _reference_edits(expected.reference, reading.text)
    reference_ok = reference_edits is not None
    date_ok = any(expected.window_start <= d <= expected.window_end for d in reading.dates)
    recipient_ok = reading.recipient is not None and names_match(reading.recipient,
                                                                 expected.account_name)
    if not recipient_ok:  # the name may stand anywhere, without a label
        recipient_ok = names_match(reading.text, expected.account_name) and bool(
            expected.account_name.strip())
    checks = (
        Check("amount", amount_ok, "the amount matches" if amount_ok else
              f"no amount equal to {expected.amount} (minor units) was read; read "
              f"{list(reading.amounts) or 'none'}"),
        Check("reference", reference_ok, "the payment reference was found"
              if reference_edits == 0 else "the payment reference was found with one "
              "character misread" if reference_ok else
              f"the reference {expected.reference} was not found"),
        Check("date", date_ok, "dated within the order's window" if date_ok else
              "no date between the order and its proof deadline was read"),
        Check("recipient", recipient_ok, "the recipient matches the account name"
              if recipient_ok else "the recipient does not match the account name"),
    )
    return ProofScore(score=sum(WEIGHTS[c.name] for c in checks if c.passed), checks=checks)
