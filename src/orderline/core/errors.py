"""One root for every refusal the product can give.

Each error carries a stable machine-readable ``code``; the HTTP layer maps codes to statuses
in one table, so the domain never knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Root of every business refusal. ``code`` is stable and documented for integrators."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationFailed(DomainError):
    code = "validation_error"


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"No {kind} with id {ident!s} in this business.",
                         details={"resource": kind, "id": str(ident)})


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class OutOfStock(DomainError):
    code = "out_of_stock"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class VersionConflict(DomainError):
    code = "version_conflict"


class PaymentDeadlinePassed(DomainError):
    code = "payment_deadline_passed"


class AmountMismatch(DomainError):
    code = "amount_mismatch"


class Conflict(DomainError):
    """A uniqueness rule was broken (SKU taken, location code taken, ...)."""

    code = "conflict"


class InsufficientStock(DomainError):
    """A stock correction would leave fewer units than are reserved or sold."""

    code = "insufficient_stock"


class OrderNotEditable(DomainError):
    code = "order_not_editable"


class UnknownSku(DomainError):
    code = "unknown_sku"


class UnknownChannel(DomainError):
    code = "unknown_channel"


class InvalidWebhookUrl(ValidationFailed):
    """Not an http(s) URL with a host, or a host that does not resolve."""

    code = "invalid_webhook_url"


class UnsafeWebhookUrl(ValidationFailed):
    """The URL's host is (or resolves to) a loopback, private, link-local, multicast, reserved
    or unspecified address, and the business is not in development mode."""

    code = "unsafe_webhook_url"


class DeliveryAlreadySucceeded(DomainError):
    code = "webhook_delivery_already_succeeded"


class WebhookEndpointDisabled(DomainError):
    code = "webhook_endpoint_disabled"


class InvalidLastEventId(ValidationFailed):
    """A live stream's ``Last-Event-ID`` is not a position the stream gave out."""

    code = "invalid_last_event_id"


# Checkout: carts, shipping, coupons, confirm.


class CartEmpty(DomainError):
    code = "cart_empty"


class CartClosed(DomainError):
    """The cart was already turned into an order (or abandoned): it can no longer change."""

    code = "cart_closed"


class CartChanged(DomainError):
    """The cart changed after its checkout was priced: review the checkout again."""

    code = "cart_changed"


class QuantityAboveLimit(DomainError):
    code = "quantity_above_limit"


class BelowMinimumOrder(DomainError):
    code = "below_minimum_order"


class AboveMaximumOrder(DomainError):
    code = "above_maximum_order"


class ZeroTotalOrder(DomainError):
    code = "zero_total_order"


class UndeliverableAddress(DomainError):
    code = "undeliverable_address"


class ShippingMethodUnavailable(DomainError):
    code = "shipping_method_unavailable"


class InvalidCoupon(DomainError):
    """No active coupon with this code in this business."""

    code = "invalid_coupon"


class CouponNotStarted(DomainError):
    code = "coupon_not_started"


class CouponExpired(DomainError):
    code = "coupon_expired"


class CouponMinimumNotMet(DomainError):
    code = "coupon_minimum_not_met"


class CouponNotApplicable(DomainError):
    """A coupon restricted to some products, none of which is in the cart; or two coupons of
    a kind that cannot be combined."""

    code = "coupon_not_applicable"


class CouponExhausted(DomainError):
    code = "coupon_exhausted"


class CouponCustomerLimitReached(DomainError):
    code = "coupon_customer_limit_reached"


class CheckoutExpired(DomainError):
    code = "checkout_expired"


class CheckoutSuperseded(DomainError):
    code = "checkout_superseded"


class CheckoutAlreadyConfirmed(DomainError):
    code = "checkout_already_confirmed"


class PriceChanged(DomainError):
    """Prices, shipping or tax moved since the totals the buyer saw; ``details`` has the new
    totals, and sending those confirms."""

    code = "price_changed"


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class RequestInProgress(DomainError):
    code = "request_in_progress"


class ConfirmInFlight(DomainError):
    """This buyer already has a confirm running; one at a time."""

    code = "confirm_in_flight"


class RateLimited(DomainError):
    code = "rate_limited"


# Payments: cash on delivery and one-time codes.


class CodUnavailable(DomainError):
    """Root of every reason cash on delivery cannot be offered; catch it to fall back to other
    payment methods. Only its subclasses are raised."""

    code = "cod_unavailable"


class CodDisabled(CodUnavailable):
    code = "cod_disabled"


class CodZoneNotAllowed(CodUnavailable):
    code = "cod_zone_not_allowed"


class CodTotalAboveLimit(CodUnavailable):
    code = "cod_total_above_limit"


class CodTooManyOpenOrders(CodUnavailable):
    code = "cod_too_many_open_orders"


class CodTrustTooLow(CodUnavailable):
    code = "cod_trust_too_low"


class CollectedAmountMismatch(DomainError):
    """The courier collected a different amount than the order's total."""

    code = "collected_amount_mismatch"


class OtpRejected(DomainError):
    """Root of every refusal of a one-time code. Only its subclasses are raised."""

    code = "otp_rejected"


class OtpExpired(OtpRejected):
    code = "otp_expired"


class OtpLocked(OtpRejected):
    """Too many wrong codes: this code can no longer be verified; send a new one."""

    code = "otp_locked"


class OtpInvalid(OtpRejected):
    code = "otp_invalid"


class OtpAlreadyUsed(OtpRejected):
    code = "otp_already_used"


# Payments.


class PaymentFailed(DomainError):
    """The provider declined or failed the payment; ``details.decline_code`` says why. The
    order's stock stays held until its deadline: the buyer may try another card."""

    code = "payment_failed"


class PaymentInProgress(DomainError):
    code = "payment_in_progress"


class PaymentNotCapturable(DomainError):
    code = "payment_not_capturable"


class RefundExceedsCaptured(DomainError):
    code = "refund_exceeds_captured"


class PaymentProviderUnavailable(DomainError):
    code = "payment_provider_unavailable"


class UnknownPaymentProvider(DomainError):
    code = "unknown_payment_provider"


class WebhookSignatureRejected(DomainError):
    """A provider webhook failed verification. Its code says how: ``signature_missing``,
    ``signature_invalid``, ``timestamp_outside_tolerance`` or ``payload_invalid``."""

    CODES = frozenset({"signature_missing", "signature_invalid", "timestamp_outside_tolerance",
                       "payload_invalid"})

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, details={"provider_check": code})
        self.code = code if code in self.CODES else "signature_invalid"


class OtpRequired(DomainError):
    """This cash-on-delivery order needs the one-time code sent to the buyer's phone."""

    code = "otp_required"


# Payment proof files.


class ProofRefused(DomainError):
    """An uploaded payment proof (receipt image or PDF) was refused; the code says why."""

    code = "proof_refused"


class FileTooLarge(ProofRefused):
    code = "file_too_large"


class ImageTooLarge(ProofRefused):
    """The image declares more pixels than allowed; it was refused without being decoded."""

    code = "image_too_large"


class UnsupportedFileType(ProofRefused):
    code = "unsupported_file_type"


class CorruptFile(ProofRefused):
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
