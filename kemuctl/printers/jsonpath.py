"""The JSONPath templates kubectl accepts (``-o jsonpath``, ``custom-columns``, ``--sort-by``).

The subset of k8s.io/client-go/util/jsonpath: fields (``.a.b``, ``['a.b']``), indexes and slices
(``[0]``, ``[-1]``, ``[1:3]``, ``[::2]``), wildcards (``[*]``, ``.*``), recursive descent
(``..name``), unions (``[0,2]``, ``['a','b']``), filters (``[?(@.type=="Ready")]``,
``[?(@.ready)]``), ``{range ...}...{end}`` and string literals (``{"\\n"}``). Results of one
expression print separated by spaces; maps and lists print as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kemuctl.gojson import marshal


class JSONPathError(ValueError):
    pass


# ---------------------------------------------------------------------------------- nodes

@dataclass(frozen=True)
class Field:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Recursive:
    pass


@dataclass(frozen=True)
class Slice:
    start: int | None
    end: int | None
    step: int | None
    single: bool = False


@dataclass(frozen=True)
class Union:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Filter:
    left: Path
    operator: str
    right: Path | None


Step = Field | Wildcard | Recursive | Slice | Union | Filter | Literal


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass
class Range:
    path: Path
    body: list[Node] = field(default_factory=list)


Node = Text | Path | Range


# ---------------------------------------------------------------------------------- parsing

def _split_actions(template: str) -> Iterator[tuple[bool, str]]:
    """(is_action, text) pieces: text outside braces and the inside of each ``{...}``."""
    position = 0
    length = len(template)
    while position < length:
        start = template.find("{", position)
        if start < 0:
            yield False, template[position:]
            return
        if start > position:
            yield False, template[position:start]
        index = start + 1
        quote = ""
        depth = 0
        while index < length:
            char = template[index]
            if quote:
                if char == "\\":
                    index += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                depth -= 1
            elif char == "}" and depth <= 0:
                break
            index += 1
        if index >= length:
            raise JSONPathError("unclosed action")
        yield True, template[start + 1:index]
        position = index + 1


def parse(template: str) -> list[Node]:
    root: list[Node] = []
    stack: list[list[Node]] = [root]
    for is_action, text in _split_actions(template):
        if not is_action:
            stack[-1].append(Text(text))
            continue
        action = text.strip()
        if action == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
        elif action.startswith("range ") or action.startswith("range\t"):
            block = Range(_Parser(action[len("range"):].strip()).path())
            stack[-1].append(block)
            stack.append(block.body)
        elif action.startswith('"') or action.startswith("'"):
            stack[-1].append(Text(_unquote(action)))
        elif action == "":
            continue
        else:
            stack[-1].append(_Parser(action).path())
    if len(stack) != 1:
        raise JSONPathError("unclosed range")
    return root


def _unquote(text: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise JSONPathError(f"unterminated quoted string: {text}")
    if text[0] == "'":
        return text[1:-1]
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        raise JSONPathError(f"invalid string literal: {text}") from None
    if not isinstance(value, str):
        raise JSONPathError(f"invalid string literal: {text}")
    return value


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_FIELD_END = set(".[]()=!<>, \t\"'")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def path(self, stop: str = "") -> Path:
        steps: list[Step] = []
        if self.peek() in ("$", "@"):
            self.pos += 1
        while self.pos < len(self.text):
            char = self.peek()
            if stop and char in stop:
                break
            if char in " \t":
                if stop:
                    break
                self.pos += 1
                continue
            if char == ".":
                if self.peek(1) == ".":
                    self.pos += 2
                    steps.append(Recursive())
                    if self.peek() == "*":
                        self.pos += 1
                        steps.append(Wildcard())
                    elif self.peek() and self.peek() not in _FIELD_END:
                        steps.append(Field((self.field_name(),)))
                    continue
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    steps.append(Wildcard())
                elif self.peek() == "[" or self.pos >= len(self.text):
                    continue
                else:
                    steps.append(Field((self.field_name(),)))
            elif char == "[":
                steps.append(self.bracket())
            elif char == "*":
                self.pos += 1
                steps.append(Wildcard())
            elif not steps and (char.isalpha() or char == "_"):
                steps.append(Field((self.field_name(),)))
            else:
                raise JSONPathError(f"unrecognized character in action: {char!r} in {self.text}")
        return Path(tuple(steps))

    def field_name(self) -> str:
        name: list[str] = []
        while self.pos < len(self.text):
            char = self.peek()
            if char == "\\" and self.peek(1) == ".":
                name.append(".")
                self.pos += 2
                continue
            if char in _FIELD_END:
                break
            name.append(char)
            self.pos += 1
        if not name:
            raise JSONPathError(f"missing field name in {self.text}")
        return "".join(name)

    def bracket(self) -> Step:
        start = self.pos
        depth = 0
        quote = ""
        index = self.pos
        while index < len(self.text):
            char = self.text[index]
            if quote:
                if char == "\\":
                    index += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        if index >= len(self.text):
            raise JSONPathError(f"unterminated array in {self.text}")
        inner = self.text[start + 1:index].strip()
        self.pos = index + 1
        if inner == "*":
            return Wildcard()
        if inner.startswith("?"):
            return self.filter(inner[1:].strip())
        if inner.startswith("'") or inner.startswith('"'):
            return Field(tuple(_unquote(part.strip()) for part in _split_commas(inner)))
        if "," in inner:
            return Union(tuple(_int(p) for p in inner.split(",")))
        if ":" in inner:
            parts = [p.strip() for p in inner.split(":")]
            if len(parts) > 3:
                raise JSONPathError(f"invalid array index {inner}")
            values = [(_int(p) if p else None) for p in parts] + [None] * (3 - len(parts))
            return Slice(values[0], values[1], values[2])
        return Slice(_int(inner), None, None, single=True)

    def filter(self, inner: str) -> Filter:
        if not (inner.startswith("(") and inner.endswith(")")):
            raise JSONPathError(f"unclosed filter in {inner}")
        body = inner[1:-1].strip()
        match = re.search(r"(==|!=|<=|>=|<|>)", _mask_quotes(body))
        if match is None:
            return Filter(_operand(body), "exists", None)
        left, right = body[:match.start()].strip(), body[match.end():].strip()
        return Filter(_operand(left), match.group(1), _operand(right))


def _mask_quotes(text: str) -> str:
    """``text`` with quoted strings blanked, so operators inside them are not found."""
    return re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", lambda m: "_" * len(m.group(0)), text)


def _operand(text: str) -> Path:
    if text.startswith("@") or text.startswith("$") or text.startswith("."):
        return _Parser(text).path()
    if text.startswith("'") or text.startswith('"'):
        return Path((Literal(_unquote(text)),))
    if text in ("true", "false"):
        return Path((Literal(text == "true"),))
    if _NUMBER.fullmatch(text):
        number = float(text)
        return Path((Literal(int(number) if number.is_integer() and "." not in text else number),))
    raise JSONPathError(f"unrecognized filter operand: {text}")


def _split_commas(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise JSONPathError(f"invalid array index {text.strip()}") from None


# ---------------------------------------------------------------------------------- evaluation

_MISSING = object()


class JSONPath:
    def __init__(self, template: str, *, allow_missing_keys: bool = True):
        self.template = template
        self.nodes = parse(template)
        self.allow_missing_keys = allow_missing_keys

    def find_results(self, data: Any) -> list[list[Any]]:
        """The values of each expression, in template order (texts as one-element lists)."""
        return self._walk_nodes(self.nodes, data)

    def _walk_nodes(self, nodes: list[Node], data: Any) -> list[list[Any]]:
        results: list[list[Any]] = []
        for node in nodes:
            if isinstance(node, Text):
                results.append([_TextValue(node.text)])
            elif isinstance(node, Range):
                for item in self.evaluate(node.path, [data]):
                    results.extend(self._walk_nodes(node.body, item))
            else:
                results.append(self.evaluate(node, [data]))
        return results

    def execute(self, data: Any) -> str:
        parts: list[str] = []
        for values in self.find_results(data):
            parts.append(" ".join(format_value(v) for v in values))
        return "".join(parts)

    def evaluate(self, path: Path, values: list[Any]) -> list[Any]:
        for step in path.steps:
            values = self._step(step, values)
        return values

    def _step(self, step: Step, values: list[Any]) -> list[Any]:
        if isinstance(step, Field):
            return self._field(step, values)
        if isinstance(step, Wildcard):
            found: list[Any] = []
            for value in values:
                if isinstance(value, dict):
                    found.extend(value[k] for k in sorted(value))
                elif isinstance(value, list):
                    found.extend(value)
            return found
        if isinstance(step, Recursive):
            return list(_descendants(values))
        if isinstance(step, Slice):
            return self._slice(step, values)
        if isinstance(step, Union):
            found = []
            for value in values:
                if not isinstance(value, list):
                    raise JSONPathError(f"{_go_type(value)} is not array or slice")
                for index in step.indexes:
                    position = index + len(value) if index < 0 else index
                    if not 0 <= position < len(value):
                        raise JSONPathError(f"array index out of bounds: index {index}, "
                                            f"length {len(value)}")
                    found.append(value[position])
            return found
        if isinstance(step, Literal):
            return [step.value]
        return self._filter(step, values)

    def _field(self, step: Field, values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for name in step.names:
            for value in values:
                if isinstance(value, dict) and name in value and value[name] is not None:
                    found.append(value[name])
        if not found and values and not self.allow_missing_keys:
            raise JSONPathError(f"{step.names[0]} is not found")
        return found

    @staticmethod
    def _slice(step: Slice, values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            if value is None:
                continue
            if not isinstance(value, list):
                raise JSONPathError(f"{_go_type(value)} is not array or slice")
            length = len(value)
            start = step.start if step.start is not None else 0
            if start < 0:
                start += length
            if step.single:
                end = start + 1
            else:
                end = step.end if step.end is not None else length
                if end < 0:
                    end += length
            if end == start:
                continue
            if not 0 <= start < length:
                raise JSONPathError(f"array index out of bounds: index {start}, length {length}")
            if not 0 <= end <= length:
                raise JSONPathError(f"array index out of bounds: index {end - 1}, length {length}")
            if start > end:
                raise JSONPathError(f"starting index {start} is greater than ending index {end}")
            stride = step.step if step.step is not None else 1
            if stride <= 0:
                raise JSONPathError("step must be > 0")
            found.extend(value[start:end:stride])
        return found

    def _filter(self, step: Filter, values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            if not isinstance(value, list):
                raise JSONPathError(f"{_go_type(value)} is not array or slice and cannot be "
                                    "filtered")
            for item in value:
                lefts = self.evaluate(step.left, [item])
                if not lefts:
                    continue
                if len(lefts) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if step.operator == "exists":
                    found.append(item)
                    continue
                assert step.right is not None
                rights = self.evaluate(step.right, [item])
                if not rights:
                    continue
                if len(rights) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if _compare(lefts[0], step.operator, rights[0]):
                    found.append(item)
        return found


class _TextValue(str):
    """Template text, printed as is."""


def _descendants(values: list[Any]) -> Iterator[Any]:
    for value in values:
        children: list[Any] = []
        if isinstance(value, dict):
            children = [value[k] for k in sorted(value)]
        elif isinstance(value, list):
            children = list(value)
        if children:
            yield value
            yield from _descendants(children)


def _compare(left: Any, operator: str, right: Any) -> bool:
    numbers = (int, float)
    if operator in ("==", "!="):
        if isinstance(left, bool) != isinstance(right, bool) or \
                isinstance(left, numbers) != isinstance(right, numbers) or \
                isinstance(left, str) != isinstance(right, str):
            return operator != "=="
        return bool(left == right) if operator == "==" else bool(left != right)
    comparable = (isinstance(left, numbers) and isinstance(right, numbers)
                  and not isinstance(left, bool) and not isinstance(right, bool)) or \
        (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        raise JSONPathError(f"incompatible types for comparison: {left!r} {operator} {right!r}")
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "interface {}"


def format_value(value: Any) -> str:
    """How the JSONPath printer prints one result."""
    if isinstance(value, _TextValue):
        return str(value)
    if isinstance(value, dict | list):
        return marshal(value)
    return go_print(value)


def go_print(value: Any) -> str:
    """``fmt.Sprint`` of a JSON value: ``map[a:b]``, ``[x y]``, ``true``, ``<nil>``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


_RELAXED = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")


def relaxed(expression: str) -> str:
    """kubectl's RelaxedJSONPathExpression: ``.a.b``, ``a.b`` or ``{.a.b}`` become ``{.a.b}``."""
    if not expression:
        return expression
    match = _RELAXED.match(expression)
    if match is None:
        raise JSONPathError("unexpected path string, expected a 'name1.name2' or '.name1.name2' "
                            "or '{name1.name2}' or '{.name1.name2}'")
    return "{." + (match.group(1) or match.group(2)) + "}"
