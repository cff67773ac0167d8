"""``python -m kemuctl``."""

from kemuctl.main import main

main()
