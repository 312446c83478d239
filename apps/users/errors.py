"""The users service's errors: each has a stable code and renders as a problem body."""

from __future__ import annotations

from rest_framework import status

from apps.core.exceptions import ApplicationError, Conflict


class InvalidCredentials(ApplicationError):
    # One answer for "no such email", "wrong password" and "deactivated": no account enumeration.
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_credentials"
    default_detail = "The email or password is incorrect."


class RefreshTokenInvalid(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "refresh_token_invalid"
    default_detail = "The refresh token is invalid, expired or revoked; sign in again."


class RefreshTokenReused(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "refresh_token_reused"
    default_detail = "The refresh token was already used; every session it belongs to is signed out."


class AccountUnavailable(ApplicationError):
    """A valid access token whose customer has since been deactivated (or removed)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "account_inactive"
    default_detail = "This account is not active."


class EmailTaken(Conflict):
    default_code = "email_taken"
    default_detail = "An account with this email already exists."


class ResetTokenInvalid(ApplicationError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "reset_token_invalid"
    default_detail = "The password reset link is invalid, expired or already used; request a new one."
