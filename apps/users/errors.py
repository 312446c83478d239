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
