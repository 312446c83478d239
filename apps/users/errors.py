"""The users service's errors: each has a stable code and renders as a problem body."""

from __future__ import annotations

from apps.core.exceptions import ApplicationError, Conflict, Unauthorized


class InvalidCredentials(Unauthorized):
    # One answer for "no such email", "wrong password" and "deactivated": no account enumeration.
    default_code = "invalid_credentials"
    default_detail = "The email or password is incorrect."


class RefreshTokenInvalid(Unauthorized):
    default_code = "refresh_token_invalid"
    default_detail = "The refresh token is invalid, expired or revoked; sign in again."


class RefreshTokenReused(Unauthorized):
    default_code = "refresh_token_reused"
    default_detail = "The refresh token was already used; every session it belongs to is signed out."


class AccountUnavailable(Unauthorized):
    """A valid access token whose customer has since been deactivated (or removed)."""

    default_code = "account_inactive"
    default_detail = "This account is not active."


class EmailTaken(Conflict):
    default_code = "email_taken"
    default_detail = "An account with this email already exists."


class ResetTokenInvalid(ApplicationError):
    default_code = "reset_token_invalid"
    default_detail = "The password reset link is invalid, expired or already used; request a new one."


class PhoneNotVerifiable(ApplicationError):
    default_code = "phone_not_verifiable"
    default_detail = "Set a phone number in international format (starting with + and the country code) first."


class PhoneAlreadyVerified(Conflict):
    default_code = "phone_already_verified"
    default_detail = "This phone number is already verified."


class PhoneCodeLimit(ApplicationError):
    """Too many codes asked for: too soon after the last one, or the number's or account's day
    is used up. 429, so a client backs off the same way as for a throttle."""

    status_code = 429
    default_code = "phone_code_limit"
    default_detail = "Too many verification codes requested; try again later."


class PhoneCodeInvalid(ApplicationError):
    # One answer for wrong, expired, spent and out of attempts: a guesser learns nothing.
    default_code = "phone_code_invalid"
    default_detail = "The code is wrong, expired or used up; request a new one."


class SmsUnavailable(ApplicationError):
    status_code = 503
    default_code = "sms_unavailable"
    default_detail = "The code could not be texted right now; try again in a few minutes."


class EmailVerificationTokenInvalid(ApplicationError):
    default_code = "email_verification_token_invalid"
    default_detail = "The verification link is invalid or has expired; ask for a new one."


class EmailAlreadyVerified(Conflict):
    default_code = "email_already_verified"
    default_detail = "This email address is already verified."
