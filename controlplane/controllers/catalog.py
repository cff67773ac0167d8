"""Imports every controller module so each registers itself; the manager imports this."""
