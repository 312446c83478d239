"""What the stories of the payments service share: the service name, a task's Outcome after a
provider call, the parsing of amounts and currencies, and the decline reasons payment.failed reports."""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.core.currencies import is_currency
from apps.payments.contracts import events as contract
from apps.payments.models import MONEY

SERVICE = PRODUCER = "payments"
CENT = Decimal("0.01")
# The first amount the money columns (12 digits, 2 after the point) cannot hold.
MAX_AMOUNT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])
# Provider decline codes with a reason of their own in payment.failed; every other decline
# (expired_card, do_not_honor, ...) is reported as "declined".
DECLINE_REASONS = {
    "insufficient_funds": contract.REASON_INSUFFICIENT_FUNDS,
    "invalid_payment_method": contract.REASON_INVALID_PAYMENT_METHOD,
    # Stripe's code when the shopper's 3-D Secure authentication fails (the sandbox uses it too).
    "payment_intent_authentication_failure": contract.REASON_AUTHENTICATION_FAILED,
}


class Outcome(enum.Enum):
    """What a task should do after a provider call: stop, or retry later with the same key."""

    DONE = "done"
    RETRY = "retry"


def parse_amount(value: Any) -> Decimal | None:
    """A positive amount with at most two decimal places, from a decimal string; else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    # Bounded before quantize: "1e100" would overflow its precision (InvalidOperation).
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT or amount != amount.quantize(CENT):
        return None
    return amount.quantize(CENT)


def parse_currency(value: Any) -> str | None:
    """An active ISO 4217 code (apps/core/currencies.py), or None: three letters are not enough
    (XXX or XTS are no money to charge in)."""
    currency = str(value or "").strip().upper()
    return currency if is_currency(currency) else None


def customer_ref(intent: Any) -> str | None:
    """The payment's customer as events name it: None for a guest order's payment."""
    return str(intent.customer_id) if intent.customer_id is not None else None
