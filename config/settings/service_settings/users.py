"""Settings of the users service."""

from config.settings.env import env_int, env_str

# How long a password reset link works, and where in the shop front end it lands
# (SHOP_FRONTEND_URL + this path + ?token=...).
USERS_PASSWORD_RESET_TOKEN_SECONDS = env_int("USERS_PASSWORD_RESET_TOKEN_SECONDS", 60 * 60)
USERS_PASSWORD_RESET_PATH = env_str("USERS_PASSWORD_RESET_PATH", "/reset-password")
