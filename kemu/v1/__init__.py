"""Generated from proto/kemu/v1 by scripts/genproto.py."""
