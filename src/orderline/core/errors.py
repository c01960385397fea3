"""One root for every refusal the product can give.

Each error carries a stable machine-readable ``code``; the HTTP layer maps codes to statuses
in one table, so the domain never knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class DomainError(Exception):
    """Root of every business refusal. ``code`` is stable and documented for integrators."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationFailed(DomainError):
    """The request is well-formed but a field breaks a rule; ``details`` names the field."""

    code = "validation_error"


class NotFound(DomainError):
    """No such resource in the caller's business (another business's id is not found either)."""

    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"No {kind} with id {ident!s} in this business.",
                         details={"resource": kind, "id": str(ident)})


class Unauthorized(DomainError):
    """No credential, or an unknown or revoked API key or token."""

    code = "unauthorized"


class Forbidden(DomainError):
    """The API key lacks the scope this action needs; ``details`` names it."""

    code = "forbidden"


class OutOfStock(DomainError):
    """Not enough available units for the order's lines; ``details.lines`` lists the short ones."""

    code = "out_of_stock"


class InvalidTransition(DomainError):
    """The order's status table does not allow this move from its current status."""

    code = "invalid_transition"


class VersionConflict(DomainError):
    """``If-Match`` names an older version of the order: fetch it again and retry."""

    code = "version_conflict"


class PaymentDeadlinePassed(DomainError):
    """The order's payment deadline passed, so its stock is no longer held."""

    code = "payment_deadline_passed"


class AmountMismatch(DomainError):
    """A payment's amount is not the order's total."""

    code = "amount_mismatch"


class Conflict(DomainError):
    """A uniqueness rule was broken (SKU taken, location code taken, ...)."""

    code = "conflict"


class InsufficientStock(DomainError):
    """A stock correction would leave fewer units than are reserved or sold."""

    code = "insufficient_stock"


class ShipmentExceedsOrder(DomainError):
    """A shipment would carry more units of a line than the order has left to ship."""

    code = "shipment_exceeds_order"


class OrderNotEditable(DomainError):
    """The order's lines can change only while it awaits payment."""

    code = "order_not_editable"


class OrderNotChangeable(DomainError):
    """Lines of an order change after payment only while it is paid (or confirmed, or being
    processed) and not shipped; ``details.current_status`` says what it is."""

    code = "order_not_changeable"


class OrderChangeOpen(DomainError):
    """The order already has a change waiting for the buyer's payment; cancel it (or let it
    be paid) before making another. ``details.change_id`` names it."""

    code = "order_change_open"


class OrderChangeClosed(DomainError):
    """The change is no longer waiting for payment (it was applied, cancelled or lapsed);
    ``details.status`` says which."""

    code = "order_change_closed"


class CancelExceedsRemaining(DomainError):
    """A cancellation asks for more units of a line than are still ordered and not refunded
    (or names a line the order does not have)."""

    code = "cancel_exceeds_remaining"


class ReturnExceedsShipped(DomainError):
    """A return asks for more units of a line than were shipped and not already returned
    (or names a line the order does not have)."""

    code = "return_exceeds_shipped"


class ReturnWindowClosed(DomainError):
    """The buyer may not ask for a return now: the business takes no returns from buyers
    (its return window is 0 days), or the window after delivery has passed."""

    code = "return_window_closed"


class ExchangeNotAllowed(DomainError):
    """An exchange cannot be made now: the order was never paid in the ledger, its payment
    has too little left to give as credit, or no payment of it can carry the credit."""

    code = "exchange_not_allowed"


class SplitExceedsRemaining(DomainError):
    """A split asks to move more units of a line than are ordered and not yet shipped (or
    names a line the order does not have)."""

    code = "split_exceeds_remaining"


class SplitTakesEverything(DomainError):
    """A split must leave at least one unit on the original order; to move every unit,
    there is nothing to split."""

    code = "split_takes_everything"


class SplitNotAllowed(DomainError):
    """This order cannot be split now: its money is part refunded or a payment is under way,
    or its status does not allow it."""

    code = "split_not_allowed"


class PaymentSharedWithSplit(DomainError):
    """Part of this order's payment belongs to an order split from it: cancel (or settle)
    that order first, so its share comes back to this one, then refund and cancel."""

    code = "payment_shared_with_split"


class OrdersNotMergeable(DomainError):
    """These two orders cannot be merged: both must await payment with nothing under way,
    belong to the same customer and be in the same currency, and differ."""

    code = "orders_not_mergeable"


class LinePartlyRefunded(DomainError):
    """Some units of this line were refunded already; refund the rest of it instead of
    cancelling part of it."""

    code = "line_partly_refunded"


class UnknownSku(DomainError):
    """Some SKUs are not in this business's catalog; ``details.unknown_skus`` lists them."""

    code = "unknown_sku"


class VariantArchived(DomainError):
    """A SKU (or its product) is archived and cannot be sold anew; ``details.archived_skus``
    lists them. Unarchive it, or take it out of the cart or order."""

    code = "variant_archived"


class UnknownChannel(DomainError):
    """The sales channel is not set up for this business."""

    code = "unknown_channel"


class InvalidWebhookUrl(ValidationFailed):
    """Not an http(s) URL with a host, or a host that does not resolve."""

    code = "invalid_webhook_url"


class UnsafeWebhookUrl(ValidationFailed):
    """The URL's host is (or resolves to) a loopback, private, link-local, multicast, reserved
    or unspecified address, and the business is not in development mode."""

    code = "unsafe_webhook_url"


class DeliveryAlreadySucceeded(DomainError):
    """The webhook delivery already succeeded; replaying it would send the event twice."""

    code = "webhook_delivery_already_succeeded"


class WebhookEndpointDisabled(DomainError):
    """The webhook endpoint is disabled, so nothing would be sent: enable it first."""

    code = "webhook_endpoint_disabled"


class InvalidLastEventId(ValidationFailed):
    """A live stream's ``Last-Event-ID`` is not a position the stream gave out."""

    code = "invalid_last_event_id"


# Checkout: carts, shipping, coupons, confirm.


class CartEmpty(DomainError):
    """The cart has no lines to check out."""

    code = "cart_empty"


class CartClosed(DomainError):
    """The cart was already turned into an order (or abandoned): it can no longer change."""

    code = "cart_closed"


class DraftOrderClosed(DomainError):
    """The draft order was completed or cancelled, or its link was opened, so this change is
    no longer possible."""

    code = "draft_order_closed"


class DraftLinkExpired(DomainError):
    """The draft order's link passed its expiry (or the merchant sent a newer one)."""

    code = "draft_link_expired"


class CartChanged(DomainError):
    """The cart changed after its checkout was priced: review the checkout again."""

    code = "cart_changed"


class QuantityAboveLimit(DomainError):
    """A line has more units than the business's ``max_line_quantity``."""

    code = "quantity_above_limit"


class BelowMinimumOrder(DomainError):
    """The products after discounts come to less than the business's ``min_order_total``."""

    code = "below_minimum_order"


class AboveMaximumOrder(DomainError):
    """The order's total is above the business's ``max_order_total``."""

    code = "above_maximum_order"


class ZeroTotalOrder(DomainError):
    """The order comes to 0 and the business does not accept free orders."""

    code = "zero_total_order"


class UndeliverableAddress(DomainError):
    """No shipping zone of the business covers the address."""

    code = "undeliverable_address"


class ShippingMethodUnavailable(DomainError):
    """The chosen shipping method is not offered for this address."""

    code = "shipping_method_unavailable"


class InvalidCoupon(DomainError):
    """No active coupon with this code in this business."""

    code = "invalid_coupon"


class CouponNotStarted(DomainError):
    """The coupon's validity has not started yet."""

    code = "coupon_not_started"


class CouponExpired(DomainError):
    """The coupon's validity has ended."""

    code = "coupon_expired"


class CouponMinimumNotMet(DomainError):
    """The cart's subtotal is below the coupon's minimum."""

    code = "coupon_minimum_not_met"


class CouponNotApplicable(DomainError):
    """A coupon restricted to some products, none of which is in the cart; or two coupons of
    a kind that cannot be combined."""

    code = "coupon_not_applicable"


class CouponExhausted(DomainError):
    """The coupon reached its total number of uses."""

    code = "coupon_exhausted"


class CouponCustomerLimitReached(DomainError):
    """This customer already used the coupon as often as it allows."""

    code = "coupon_customer_limit_reached"


class CheckoutExpired(DomainError):
    """The checkout's stock hold lapsed at its deadline; start the checkout again."""

    code = "checkout_expired"


class CheckoutSuperseded(DomainError):
    """A newer checkout of the same cart replaced this one."""

    code = "checkout_superseded"


class CheckoutAlreadyConfirmed(DomainError):
    """This checkout is already an order; it is never placed twice."""

    code = "checkout_already_confirmed"


class PriceChanged(DomainError):
    """Prices, shipping or tax moved since the totals the buyer saw; ``details`` has the new
    totals, and sending those confirms."""

    code = "price_changed"


class IdempotencyKeyRequired(DomainError):
    """Confirming needs an ``Idempotency-Key`` header."""

    code = "idempotency_key_required"


class IdempotencyKeyReused(DomainError):
    """This ``Idempotency-Key`` was used for a different request."""

    code = "idempotency_key_reused"


class RequestInProgress(DomainError):
    """A request with this ``Idempotency-Key`` is still running; retry to get its answer."""

    code = "request_in_progress"


class ConfirmInFlight(DomainError):
    """This buyer already has a confirm running; one at a time."""

    code = "confirm_in_flight"


class RateLimited(DomainError):
    """Too many orders from this customer, phone or address; ``details.retry_after_seconds``
    says when to retry."""

    code = "rate_limited"


# Payments: cash on delivery and one-time codes.


class CodUnavailable(DomainError):
    """Root of every reason cash on delivery cannot be offered; catch it to fall back to other
    payment methods. Only its subclasses are raised."""

    code = "cod_unavailable"


class CodDisabled(CodUnavailable):
    """The business does not offer cash on delivery."""

    code = "cod_disabled"


class CodZoneNotAllowed(CodUnavailable):
    """Cash on delivery is not offered in the address's shipping zone."""

    code = "cod_zone_not_allowed"


class CodTotalAboveLimit(CodUnavailable):
    """The total is above the business's cash-on-delivery limit."""

    code = "cod_total_above_limit"


class CodTooManyOpenOrders(CodUnavailable):
    """The customer has too many cash-on-delivery orders not yet collected."""

    code = "cod_too_many_open_orders"


class CodTrustTooLow(CodUnavailable):
    """The customer's trust score (lowered by refused or failed deliveries) is below the
    business's minimum."""

    code = "cod_trust_too_low"


class CollectedAmountMismatch(DomainError):
    """The courier collected a different amount than the order's total."""

    code = "collected_amount_mismatch"


class OtpRejected(DomainError):
    """Root of every refusal of a one-time code. Only its subclasses are raised."""

    code = "otp_rejected"


class OtpExpired(OtpRejected):
    """The one-time code is older than its 10 minutes; send a new one."""

    code = "otp_expired"


class OtpLocked(OtpRejected):
    """Too many wrong codes: this code can no longer be verified; send a new one."""

    code = "otp_locked"


class OtpInvalid(OtpRejected):
    """The one-time code is wrong."""

    code = "otp_invalid"


class OtpAlreadyUsed(OtpRejected):
    """The one-time code was already used by a confirm; send a new one."""

    code = "otp_already_used"


# Payments.


class PaymentFailed(DomainError):
    """The provider declined or failed the payment; ``details.decline_code`` says why. The
    order's stock stays held until its deadline: the buyer may try another card."""

    code = "payment_failed"


class PaymentInProgress(DomainError):
    """The order already has a live payment attempt; finish or cancel it first."""

    code = "payment_in_progress"


class PaymentNotCapturable(DomainError):
    """The order has no authorised payment to capture."""

    code = "payment_not_capturable"


class RefundExceedsCaptured(DomainError):
    """The refund is more than the order's payments have left to refund."""

    code = "refund_exceeds_captured"


class RefundExceedsShare(DomainError):
    """The refund is more than this order's own share of the payment: part of the payment
    belongs to an order split from it, or (an order split off) the payment is the original's
    and only this order's share of it may be given back."""

    code = "refund_exceeds_order_share"


class RefundFirst(DomainError):
    """The order still holds money the buyer paid that is not refunded: refund it first
    (``POST /v1/orders/{id}/refunds``), then cancel the order."""

    code = "refund_first"


class PaymentProviderUnavailable(DomainError):
    """The payment provider did not answer; nothing was booked. Retry."""

    code = "payment_provider_unavailable"


class UnknownPaymentProvider(DomainError):
    """No payment provider of that name is configured."""

    code = "unknown_payment_provider"


class WebhookSignatureRejected(DomainError):
    """A provider webhook failed verification. Its code says how: ``signature_missing``,
    ``signature_invalid``, ``timestamp_outside_tolerance`` or ``payload_invalid``."""

    CODES: Mapping[str, str] = MappingProxyType({
        "signature_missing": "A provider webhook came without its signature header.",
        "signature_invalid": "A provider webhook's signature does not verify with the secret.",
        "timestamp_outside_tolerance": "A provider webhook's signed timestamp is more than five "
                                       "minutes away from now.",
        "payload_invalid": "A provider webhook's signed body is not an event the provider sends.",
    })

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, details={"provider_check": code})
        self.code = code if code in self.CODES else "signature_invalid"


class MessagingSignatureRejected(DomainError):
    """An SMS/WhatsApp provider's delivery report failed its check (Twilio's
    X-Twilio-Signature, the Cloud API's X-Hub-Signature-256), or names no message this server
    sent; nothing was recorded."""

    code = "messaging_signature_invalid"


class MessagingVerifyTokenRejected(DomainError):
    """The WhatsApp Cloud API webhook handshake named a verify token no business set."""

    code = "messaging_verify_token_invalid"


class MessageNotSent(DomainError):
    """The business's SMS/WhatsApp provider did not take the message (it is recorded as
    failed); ask again in a moment."""

    code = "message_not_sent"


class OtpRequired(DomainError):
    """This cash-on-delivery order needs the one-time code sent to the buyer's phone."""

    code = "otp_required"


# Payment proof files.


class ProofRefused(DomainError):
    """An uploaded payment proof (receipt image or PDF) was refused; the code says why. Only
    its subclasses are raised."""

    code = "proof_refused"


class FileTooLarge(ProofRefused):
    """The proof file is larger than the business (or the server) accepts."""

    code = "file_too_large"


class ImageTooLarge(ProofRefused):
    """The image declares more pixels than allowed; it was refused without being decoded."""

    code = "image_too_large"


class UnsupportedFileType(ProofRefused):
    """The proof is not a JPEG, PNG, WebP image or a PDF (judged by its bytes)."""

    code = "unsupported_file_type"


class CorruptFile(ProofRefused):
    """The proof file is damaged or incomplete and cannot be read."""

    code = "corrupt_file"


class ProofDeadlinePassed(ProofRefused):
    """The order's time to send a payment proof is over."""

    code = "proof_deadline_passed"


class DuplicateProof(ProofRefused):
    """The same file was already sent as the proof of another order of this business."""

    code = "duplicate_proof"


class ProofNotAccepted(ProofRefused):
    """The order takes no proof now: it is not paid by a manual method, or already paid,
    cancelled, or its proof was approved."""

    code = "proof_not_accepted"


class AlreadyVerified(DomainError):
    """Someone else decided this proof first; details name who and what."""

    code = "already_verified"


class PaymentMethodUnavailable(DomainError):
    """The chosen manual payment method is switched off, or not offered on this channel."""

    code = "payment_method_unavailable"


class CustomerHasOpenOrders(DomainError):
    """Personal data cannot be erased while the customer's orders still need it."""

    code = "customer_has_open_orders"


class ProofFileDeleted(DomainError):
    """The proof's file was deleted (retention or erasure); its record and hash remain."""

    code = "proof_file_deleted"


class ProofStorageUnavailable(DomainError):
    """The proof store did not answer; nothing was changed. Retry later."""

    code = "proof_storage_unavailable"


# Staff: accounts, invitations, sessions (the merchant console).


class LoginFailed(DomainError):
    """The email or password is not right (the same answer for an unknown email, a wrong
    password, a disabled account and a wrong second-factor code)."""

    code = "login_failed"


class SecondFactorRequired(DomainError):
    """The account has a second factor (an authenticator app): send its current code too."""

    code = "second_factor_required"


class TooManyLoginAttempts(DomainError):
    """Too many failed logins for this email or from this address;
    ``details.retry_after_seconds`` says when to try again."""

    code = "too_many_login_attempts"


class SessionExpired(DomainError):
    """The console session is unknown, logged out, idle for too long or past its absolute
    lifetime: log in again."""

    code = "session_expired"


class InvitationInvalid(DomainError):
    """The invitation link is unknown, already used or revoked: ask for a new one."""

    code = "invitation_invalid"


class InvitationExpired(DomainError):
    """The invitation link is past its expiry: ask for a new one."""

    code = "invitation_expired"


class RoleNotAllowed(DomainError):
    """The caller may not grant this role or manage this staff member (nobody grants a role
    above their own; only an owner makes or manages owners and admins)."""

    code = "role_not_allowed"


class LastOwner(DomainError):
    """The business's last active owner cannot be removed, disabled or demoted."""

    code = "last_owner"


class SecondFactorInvalid(DomainError):
    """The authenticator code is wrong, or was already used."""

    code = "second_factor_invalid"


# --- CSV imports ------------------------------------------------------------------------------

class ImportRejected(DomainError):
    """The import file was refused whole and nothing changed: ``details.rows`` lists every bad
    row as ``{row, column, reason, message}`` (``row`` counts the header as row 1, as a
    spreadsheet numbers them)."""

    code = "import_rejected"


class ImportUnreadable(DomainError):
    """The import file cannot be read as a table: not UTF-8, no header row, a missing required
    column, an unknown column or no data rows; ``details`` says which."""

    code = "import_unreadable"


class ImportTooManyRows(DomainError):
    """The import file has more data rows than one import takes; ``details.max_rows`` says how
    many. Split it into several files."""

    code = "import_too_many_rows"


class ImportTooLarge(DomainError):
    """The import file is larger than one import takes; ``details.max_bytes`` says how large."""

    code = "import_too_large"
