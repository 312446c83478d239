"""Settings of the users service."""

from config.settings.env import env_int, env_str

# How long a password reset link works, and where in the shop front end it lands
# (SHOP_FRONTEND_URL + this path + ?token=...).
USERS_PASSWORD_RESET_TOKEN_SECONDS = env_int("USERS_PASSWORD_RESET_TOKEN_SECONDS", 60 * 60)
USERS_PASSWORD_RESET_PATH = env_str("USERS_PASSWORD_RESET_PATH", "/reset-password")
# A refresh token presented again within this many seconds of its rotation is a concurrent
# refresh (two tabs, a retried request), not a stolen copy: it gets the same new pair instead of
# signing the session out. Later than that, a second use is reuse and revokes the family.
USERS_REFRESH_GRACE_SECONDS = env_int("USERS_REFRESH_GRACE_SECONDS", 10)
