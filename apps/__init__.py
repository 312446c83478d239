"""ShopStack's Django apps: the five services and the shared platform package `core`."""
