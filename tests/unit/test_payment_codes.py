"""The codes a buyer's app scans: the EMVCo payload's CRC against the specification's own
example, the QR Ph and DuitNow payloads field by field, the UPI link, and no code without what
the standard needs."""

from __future__ import annotations

from typing import Any

import pytest

from orderline.manual_payments.payment_codes import (
    DUITNOW,
    QR_PH,
    crc16_ccitt,
    crc_is_valid,
    decimal_amount,
    emv_payload,
    parse_tlv,
    payment_code,
    tlv,
)

# The example payload of EMV QRCPS Merchant-Presented Mode (v1.1, appendix), CRC "A13A".
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441"
    "115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502"
    "016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A")


def instructions(**method: Any) -> dict[str, Any]:
    currency = method.pop("currency", "PHP")
    return {"method": {"code": "gcash", "kind": "e_wallet", "account_name": "Juan Dela Cruz",
                       "account_number": "0917 555 0101", "details": {}, **method},
            "currency": currency, "amount": 125_000, "reference": "K7M2XQ9D"}


def test_the_crc_is_ccitt_false_as_the_emvco_example_has_it() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1  # the CRC catalogue's check value
    assert crc_is_valid(EMVCO_EXAMPLE)
    assert not crc_is_valid(EMVCO_EXAMPLE.replace("BEIJING", "BEIJINH"))
    assert parse_tlv(EMVCO_EXAMPLE)["63"] == "A13A"


def test_a_qr_ph_payload_carries_the_order_amount_and_reference() -> None:
    payload = emv_payload(QR_PH, acquirer_id="GXCHPHM2XXX", account="0917 555 0101",
                          merchant_name="Juan Dela Cruz", merchant_city="Manila",
                          amount=125_000, currency="PHP", reference="K7M2XQ9D")
    fields = parse_tlv(payload)
    assert crc_is_valid(payload)
    assert fields["00"] == "01" and fields["01"] == "12"  # dynamic: this order's amount
    assert parse_tlv(fields["28"]) == {"00": "ph.ppmi.p2m", "01": "GXCHPHM2XXX",
                                       "03": "0917 555 0101"}
    assert (fields["53"], fields["54"], fields["58"]) == ("608", "1250.00", "PH")
    assert (fields["59"], fields["60"]) == ("Juan Dela Cruz", "Manila")
    assert parse_tlv(fields["62"]) == {"05": "K7M2XQ9D"}


def test_a_duitnow_payload_uses_its_own_template_and_ringgit() -> None:
    payload = emv_payload(DUITNOW, acquirer_id="890053", account="601122334455",
                          merchant_name="Kedai Siti Sdn Bhd with a very long name",
                          merchant_city="Kuala Lumpur City", amount=4990, currency="MYR",
                          reference="ABCD2345")
    fields = parse_tlv(payload)
    assert crc_is_valid(payload)
    assert parse_tlv(fields["26"])["00"] == "A0000006150001"
    assert (fields["53"], fields["54"], fields["58"]) == ("458", "49.90", "MY")
    assert len(fields["59"]) == 25 and len(fields["60"]) == 15


def test_a_field_longer_than_99_characters_is_refused() -> None:
    with pytest.raises(ValueError):
        tlv("59", "x" * 100)


def test_amounts_are_written_in_major_units() -> None:
    assert decimal_amount(125_000, "PHP") == "1250.00"
    assert decimal_amount(1500, "JPY") == "1500"


def test_a_upi_method_gets_a_pay_link_with_the_reference_as_note() -> None:
    code = payment_code(instructions(code="upi", kind="upi", account_number="asha@okaxis",
                                     account_name="Asha Stores", currency="INR"))
    assert code is not None and code.standard == "upi"
    assert code.link == code.payload == ("upi://pay?pa=asha@okaxis&pn=Asha%20Stores"
                                         "&am=1250.00&tn=K7M2XQ9D&cu=INR")


def test_a_upi_method_without_a_upi_id_gets_no_code() -> None:
    assert payment_code(instructions(code="upi", kind="upi", account_number="12345",
                                     currency="INR")) is None


def test_an_emvco_code_needs_the_acquirer_and_the_city() -> None:
    assert payment_code(instructions()) is None
    assert payment_code(instructions(details={"qr_acquirer_id": "GXCHPHM2XXX"})) is None
    code = payment_code(instructions(details={"qr_acquirer_id": "GXCHPHM2XXX",
                                              "merchant_city": "Manila"}))
    assert code is not None and code.standard == "QR Ph" and crc_is_valid(code.payload)
    assert payment_code(instructions(currency="NPR", details={
        "qr_acquirer_id": "X", "merchant_city": "Kathmandu"})) is None
