"""Validation as Kubernetes does it, returning FieldErrors with Kubernetes' paths and wording."""
