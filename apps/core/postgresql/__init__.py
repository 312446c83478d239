"""ShopStack's PostgreSQL database backend (ENGINE "apps.core.postgresql", set for every alias by
config/settings/base.py): Django's own, with per-request costs taken out (see base.py)."""
