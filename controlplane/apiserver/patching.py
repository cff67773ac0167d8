"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over JSON-shaped documents."""

from __future__ import annotations

import copy
from typing import Any

from kemu.api import errors


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f'JSON pointer "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise errors.bad_request(f'JSON patch path "{path}" does not exist')
    return node, parts[-1]


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 add, remove, replace, move, copy and test."""
    if not isinstance(operations, list):
        raise errors.bad_request("a JSON patch must be an array of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        parts = _pointer(path)
        try:
            if kind in ("add", "replace", "test"):
                value = copy.deepcopy(op.get("value"))
                if not parts:
                    if kind == "test":
                        if doc != value:
                            raise errors.bad_request(f'JSON patch test failed at "{path}"')
                        continue
                    doc = value
                    continue
                parent, last = _parent(doc, parts, path)
                if kind == "test":
                    have = parent[int(last)] if isinstance(parent, list) else parent.get(last)
                    if have != value:
                        raise errors.bad_request(f'JSON patch test failed at "{path}"')
                elif isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(index, value)
                    else:
                        parent[index] = value
                else:
                    if kind == "replace" and last not in parent:
                        raise errors.bad_request(f'JSON patch path "{path}" does not exist')
                    parent[last] = value
            elif kind == "remove":
                parent, last = _parent(doc, parts, path)
                if isinstance(parent, list):
                    del parent[int(last)]
                else:
                    del parent[last]
            elif kind in ("move", "copy"):
                source = _pointer(op.get("from", ""))
                src_parent, src_last = _parent(doc, source, op.get("from", ""))
                value = src_parent[int(src_last)] if isinstance(src_parent, list) \
                    else src_parent[src_last]
                if kind == "move":
                    if isinstance(src_parent, list):
                        del src_parent[int(src_last)]
                    else:
                        del src_parent[src_last]
                doc = json_patch(doc, [{"op": "add", "path": path,
                                        "value": copy.deepcopy(value)}])
            else:
                raise errors.bad_request(f'unknown JSON patch operation "{kind}"')
        except (KeyError, IndexError, ValueError, TypeError):
            raise errors.bad_request(f'JSON patch operation {kind} failed at "{path}"') from None
    return doc


def apply(patch_type: str, document: dict[str, Any], patch: Any) -> dict[str, Any]:
    if patch_type == "merge":
        result = merge_patch(document, patch)
    elif patch_type == "json":
        result = json_patch(document, patch)
    else:
        raise errors.bad_request(f'unsupported patch type "{patch_type}"; use "merge" or "json"')
    if not isinstance(result, dict):
        raise errors.bad_request("the patched object is not a JSON object")
    return result
