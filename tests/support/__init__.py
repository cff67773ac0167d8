"""Helpers the test suites share: waiting on conditions, and clusters of real processes."""
