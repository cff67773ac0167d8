"""Output of objects: tables per kind, YAML/JSON/name, JSONPath and custom columns."""
