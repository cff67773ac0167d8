"""kemuctl: a kubectl-like command line client of the kemu API."""
