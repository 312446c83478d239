"""Writes of the users service, one module per story: customers, tokens, passwords, phone, addresses, staff."""
