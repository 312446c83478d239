"""The catalog service's published contract: the only package another service may import.
No Django imports here."""
