"""The messages the service sends: each template's name, category (transactional or marketing),
channels, and the context keys that are secrets; and rendering them from Django templates under
templates/notifications/<template>/ (subject.txt, body.txt, body.html, and sms.txt for SMS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from apps.core.sealing import unseal
from apps.notifications.models import Category, Channel


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    category: str = Category.TRANSACTIONAL
    # Email always; SMS too for messages short and urgent enough to be worth a text.
    channels: tuple[str, ...] = (Channel.EMAIL,)
    # Context keys holding secrets (a reset link): kept sealed in the delivery log (opened only to
    # render, apps.core.sealing) and redacted once sent.
    secret_keys: tuple[str, ...] = ()

    @property
    def is_marketing(self) -> bool:
        return self.category == Category.MARKETING


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str = ""


WELCOME = "welcome"
PASSWORD_RESET = "password_reset"
EMAIL_VERIFICATION = "email_verification"
ORDER_CONFIRMED = "order_confirmed"
ORDER_CANCELLED = "order_cancelled"
ORDER_SHIPPED = "order_shipped"
PAYMENT_FAILED = "payment_failed"
PAYMENT_REFUNDED = "payment_refunded"

_EMAIL_AND_SMS = (Channel.EMAIL, Channel.SMS)

TEMPLATES: dict[str, MessageTemplate] = {
    template.name: template
    for template in (
        # The welcome email confirms the account the shopper just made: transactional.
        MessageTemplate(WELCOME),
        # A reset link goes to the account's email only, never by SMS.
        MessageTemplate(PASSWORD_RESET, secret_keys=("reset_url",)),
        # Whoever opens the link proves the address (and gets its guest orders): a secret too.
        MessageTemplate(EMAIL_VERIFICATION, secret_keys=("verify_url",)),
        # A guest order's link carries its access token (a credential for the order): a secret.
        MessageTemplate(ORDER_CONFIRMED, channels=_EMAIL_AND_SMS, secret_keys=("access_token",)),
        MessageTemplate(ORDER_CANCELLED, channels=_EMAIL_AND_SMS, secret_keys=("access_token",)),
        MessageTemplate(ORDER_SHIPPED, channels=_EMAIL_AND_SMS, secret_keys=("access_token",)),
        # Email only: a failed payment cancels the order, and that cancellation is the one text
        # a declined checkout sends (two texts per decline made each checkout attempt worth two).
        MessageTemplate(PAYMENT_FAILED),
        MessageTemplate(PAYMENT_REFUNDED),
    )
}

REDACTED = "[redacted]"


def template_get(name: str) -> MessageTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise LookupError(f"No notification template named {name!r}.") from None


def _render(name: str, part: str, context: dict[str, Any]) -> str:
    return render_to_string(f"notifications/{name}/{part}", context)


def _full_context(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "shop_url": settings.SHOP_FRONTEND_URL.rstrip("/"),
        "shop_name": settings.SHOP_NAME,
        "shop_address": settings.SHOP_ADDRESS,
        **context,
    }


def render_email(template: str, context: dict[str, Any]) -> RenderedMessage:
    full = _full_context(context)
    # A header holds one line: collapse whatever whitespace the template left.
    subject = " ".join(_render(template, "subject.txt", full).split())
    return RenderedMessage(
        subject=subject,
        text=_render(template, "body.txt", full).strip() + "\n",
        html=_render(template, "body.html", full),
    )


def render_sms(template: str, context: dict[str, Any]) -> RenderedMessage:
    text = " ".join(_render(template, "sms.txt", _full_context(context)).split())
    return RenderedMessage(subject="", text=text)


def render_for_staff(template: str, channel: str, context: dict[str, Any]) -> RenderedMessage | None:
    """The message as the delivery log shows it to staff: rendered from the stored context with
    every secret shown as REDACTED, sealed or not (a pending reset link is never opened here).
    None for a template this code no longer knows."""
    try:
        secrets = template_get(template).secret_keys
    except LookupError:
        return None
    context = {key: REDACTED if key in secrets else value for key, value in context.items()}
    return render_sms(template, context) if channel == Channel.SMS else render_email(template, context)


def render(template: str, channel: str, context: dict[str, Any]) -> RenderedMessage:
    secrets = template_get(template).secret_keys
    context = {key: unseal(value) if key in secrets else value for key, value in context.items()}
    return render_sms(template, context) if channel == Channel.SMS else render_email(template, context)
