"""The kemuctl commands, one module per command family."""
