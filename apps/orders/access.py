"""Order access tokens: what lets a guest (no account) read, cancel and pay the one order they
placed. A token is the order's id signed by orders with its own SECRET_KEY (django.core.signing,
salted for this use) and a timestamp; it is valid for ORDERS_ACCESS_TOKEN_DAYS. Nothing is stored:
the token is returned once by guest checkout and reaches the shopper's mailbox only sealed in
events (apps.core.sealing). Rotating SECRET_KEY (the old key moved to SECRET_KEY_FALLBACKS, then
dropped) revokes every token; there is no revocation of a single token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

from apps.orders.errors import OrderAccessTokenExpired, OrderNotFound

_SALT = "shopstack.orders.order-access"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def order_access_token(*, order_id: uuid.UUID) -> str:
    """A new access token for the order (the id, a timestamp and a signature, URL safe)."""
    return _signer().sign(str(order_id))


def order_access_verify(*, token: str, order_id: uuid.UUID) -> None:
    """Pass if `token` is a genuine, unexpired token for `order_id`. A forged token, or one for
    another order, is OrderNotFound (404, as if the order did not exist: nothing is learnt); a
    genuine token past its lifetime is OrderAccessTokenExpired (401)."""
    max_age = timedelta(days=settings.ORDERS_ACCESS_TOKEN_DAYS)
    try:
        signed_id = _signer().unsign(token, max_age=max_age)
    except signing.SignatureExpired as error:
        # Only a token orders signed gets here; say so only to the holder of that order's token.
        if token.split(":", 1)[0] == str(order_id):
            raise OrderAccessTokenExpired() from error
        raise OrderNotFound() from error
    except signing.BadSignature as error:
        raise OrderNotFound() from error
    if signed_id != str(order_id):
        raise OrderNotFound()


@dataclass(frozen=True)
class OrderGrant:
    """Who may act on one order: its owner, signed in (`customer_id`), or whoever holds the
    order's access token (`customer_id` None: the token was checked for exactly this order)."""

    order_id: uuid.UUID
    customer_id: uuid.UUID | None
