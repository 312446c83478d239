"""Tests of the orders admin."""
