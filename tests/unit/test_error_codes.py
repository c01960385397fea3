"""Every error code has an HTTP status in the one table, and a meaning for the errors page.

The error classes are found by importing every module of the package and walking the subclasses
of ``DomainError``, so a code declared anywhere (not only in ``core/errors.py``) is checked.
"""

from __future__ import annotations

import logging

import pytest

from orderline.api.errors import HTTP_LAYER_CODES, STATUS_BY_CODE, status_of
from orderline.cli.docs import all_codes, domain_codes, error_classes
from orderline.core.errors import DomainError, WebhookSignatureRejected
from orderline.payments.rules import LedgerViolation


def test_the_walk_finds_error_classes_outside_core_errors() -> None:
    classes = error_classes()
    assert DomainError in classes
    assert LedgerViolation in classes
    assert WebhookSignatureRejected in classes


def test_every_error_code_has_an_http_status() -> None:
    unmapped = sorted(c.code for c in all_codes() if c.code not in STATUS_BY_CODE)
    assert not unmapped, (f"these error codes have no HTTP status: add them to STATUS_BY_CODE "
                          f"in src/orderline/api/errors.py: {unmapped}")


def test_every_status_in_the_table_belongs_to_a_code_someone_raises() -> None:
    known = {c.code for c in all_codes()}
    orphans = sorted(set(STATUS_BY_CODE) - known)
    assert not orphans, (f"STATUS_BY_CODE maps codes no DomainError declares and "
                         f"HTTP_LAYER_CODES does not list: {orphans}")


def test_every_code_is_declared_once() -> None:
    codes = [c.code for c in domain_codes()]
    assert len(codes) == len(set(codes)), sorted({c for c in codes if codes.count(c) > 1})


def test_every_error_code_says_what_it_means() -> None:
    silent = sorted(c.raised_as or c.code for c in all_codes() if not c.meaning)
    assert not silent, f"give these error classes a docstring (it is their meaning): {silent}"


def test_statuses_are_client_or_server_errors() -> None:
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())
    assert set(HTTP_LAYER_CODES) <= set(STATUS_BY_CODE)


def test_a_webhook_rejection_keeps_only_the_codes_it_declares() -> None:
    assert WebhookSignatureRejected("timestamp_outside_tolerance", "old").code == \
        "timestamp_outside_tolerance"
    assert WebhookSignatureRejected("something_else", "odd").code == "signature_invalid"


def test_an_unmapped_code_answers_500_and_logs_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="orderline.api.errors"):
        assert status_of("no_such_code_anywhere") == 500
    assert "no_such_code_anywhere" in caplog.text
    assert status_of("out_of_stock") == 409
