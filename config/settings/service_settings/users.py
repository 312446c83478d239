"""Settings of the users service."""

from config.settings.env import env_int, env_str

# How long a password reset link works, and where in the shop front end it lands
# (SHOP_FRONTEND_URL + this path + ?token=...).
USERS_PASSWORD_RESET_TOKEN_SECONDS = env_int("USERS_PASSWORD_RESET_TOKEN_SECONDS", 60 * 60)
USERS_PASSWORD_RESET_PATH = env_str("USERS_PASSWORD_RESET_PATH", "/reset-password")
# The email verification link (sent at registration, and again on request): how long it works and
# where it lands (SHOP_FRONTEND_URL + this path + ?token=...; the page posts the token to
# /api/v1/users/email/verify/).
USERS_EMAIL_VERIFICATION_SECONDS = env_int("USERS_EMAIL_VERIFICATION_SECONDS", 7 * 24 * 60 * 60)
USERS_EMAIL_VERIFY_PATH = env_str("USERS_EMAIL_VERIFY_PATH", "/verify-email")
# A refresh token presented again within this many seconds of its rotation is a concurrent
# refresh (two tabs, a retried request), not a stolen copy: it gets the same new pair instead of
# signing the session out. Later than that, a second use is reuse and revokes the family.
USERS_REFRESH_GRACE_SECONDS = env_int("USERS_REFRESH_GRACE_SECONDS", 10)

# Phone verification (a code texted to the shopper's number; notifications texts only verified
# numbers). A code works for USERS_PHONE_CODE_SECONDS and USERS_PHONE_CODE_ATTEMPTS wrong guesses;
# a new one can be asked for after USERS_PHONE_CODE_INTERVAL_SECONDS, and at most
# USERS_PHONE_CODES_PER_NUMBER_DAY times a day per number (whichever accounts ask) and
# USERS_PHONE_CODES_PER_ACCOUNT_DAY times a day per account (whichever numbers). The endpoints'
# own throttles are THROTTLE_PHONE_VERIFICATION and THROTTLE_PHONE_CONFIRM (base settings).
USERS_PHONE_CODE_SECONDS = env_int("USERS_PHONE_CODE_SECONDS", 10 * 60)
USERS_PHONE_CODE_ATTEMPTS = env_int("USERS_PHONE_CODE_ATTEMPTS", 5)
USERS_PHONE_CODE_INTERVAL_SECONDS = env_int("USERS_PHONE_CODE_INTERVAL_SECONDS", 60)
USERS_PHONE_CODES_PER_NUMBER_DAY = env_int("USERS_PHONE_CODES_PER_NUMBER_DAY", 5)
USERS_PHONE_CODES_PER_ACCOUNT_DAY = env_int("USERS_PHONE_CODES_PER_ACCOUNT_DAY", 5)

# Expired refresh and reset tokens are deleted this long after they expired (an hourly sweep).
USERS_EXPIRED_CREDENTIALS_KEEP_SECONDS = env_int("USERS_EXPIRED_CREDENTIALS_KEEP_SECONDS", 24 * 60 * 60)
USERS_CREDENTIALS_PRUNE_SECONDS = env_int("USERS_CREDENTIALS_PRUNE_SECONDS", 60 * 60)
# Merged into CELERY_BEAT_SCHEDULE where the users service runs (see config/settings/base.py).
USERS_CELERY_BEAT_SCHEDULE = {
    "users-prune-expired-credentials": {
        "task": "apps.users.prune_expired_credentials",
        "schedule": USERS_CREDENTIALS_PRUNE_SECONDS,
    },
}
