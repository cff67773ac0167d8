"""Label selectors: the string syntax (``app=web,tier in (a,b),!canary``), the LabelSelector
message form, matching, and the canonical string Kubernetes prints.

``Selector.everything()`` matches all label sets; ``Selector.nothing()`` matches none (what a
missing selector means for a controller).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kemu.api.names import label_value_problems, qualified_name_problems
from kemu.v1 import meta_pb2


class Operator(enum.StrEnum):
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is Operator.EQUALS or op is Operator.IN or op is Operator.DOUBLE_EQUALS:
            value = labels.get(self.key)
            return value is not None and value in self.values
        if op is Operator.NOT_EQUALS or op is Operator.NOT_IN:
            value = labels.get(self.key)
            return value is None or value not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels:
            return False
        try:
            have = int(labels[self.key])
            want = int(self.values[0])
        except ValueError:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(sorted(self.values))})"
        if op is Operator.GREATER_THAN:
            return f"{self.key}>{self.values[0]}"
        if op is Operator.LESS_THAN:
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{op.value}{self.values[0]}"


def _check(key: str, operator: Operator, values: Iterable[str]) -> Requirement:
    problems = qualified_name_problems(key)
    if problems:
        raise SelectorError(f"key: Invalid value: {key!r}: {'; '.join(problems)}")
    vals = tuple(values)
    if operator in (Operator.IN, Operator.NOT_IN) and not vals:
        raise SelectorError("values: Invalid value: []: for 'in', 'notin' operators, values set "
                            "can't be empty")
    if operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS,
                    Operator.GREATER_THAN, Operator.LESS_THAN) and len(vals) != 1:
        raise SelectorError("values: Invalid value: exact-match compatibility requires one "
                            "single value")
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
        raise SelectorError("values: Invalid value: values set must be empty for exists and "
                            "does not exist")
    for value in vals:
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            try:
                int(value)
            except ValueError:
                raise SelectorError(f"values[0]: Invalid value: {value!r}: for 'Gt', 'Lt' "
                                    f"operators, the value must be an integer") from None
            continue
        problems = label_value_problems(value)
        if problems:
            raise SelectorError(f"values[0][{key}]: Invalid value: {value!r}: "
                                + "; ".join(problems))
    return Requirement(key, operator, vals)


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    @staticmethod
    def everything() -> Selector:
        return Selector()

    @staticmethod
    def nothing() -> Selector:
        return Selector((), True)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        # A loop rather than all(generator): selectors run once per pod per controller sync.
        for requirement in self.requirements:  # noqa: SIM110
            if not requirement.matches(labels):
                return False
        return True

    def empty(self) -> bool:
        return not self.requirements and not self.matches_nothing

    def exact_labels(self) -> dict[str, str]:
        """The key=value pairs the selector requires (for indexing and generated labels)."""
        return {r.key: r.values[0] for r in self.requirements
                if r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS)
                or (r.operator is Operator.IN and len(r.values) == 1)}

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def from_labels(labels: Mapping[str, str]) -> Selector:
    """A selector that requires exactly these key=value pairs (ReplicationController form)."""
    return Selector(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in sorted(labels.items())))


def from_label_selector(selector: meta_pb2.LabelSelector | None) -> Selector:
    """The metav1.LabelSelector form; None matches nothing, an empty one matches everything."""
    if selector is None:
        return Selector.nothing()
    requirements = [_check(k, Operator.EQUALS, (v,)) for k, v in selector.match_labels.items()]
    for expression in selector.match_expressions:
        operator = {
            "In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
            "DoesNotExist": Operator.DOES_NOT_EXIST,
        }.get(expression.operator)
        if operator is None:
            raise SelectorError(f'"{expression.operator}" is not a valid label selector operator')
        requirements.append(_check(expression.key, operator, expression.values))
    requirements.sort(key=lambda r: r.key)
    return Selector(tuple(requirements))


def label_selector_string(selector: meta_pb2.LabelSelector) -> str:
    """How kubectl prints a LabelSelector (SELECTOR column)."""
    try:
        return str(from_label_selector(selector)) or "<none>"
    except SelectorError:
        return "<error>"


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def identifier(self) -> str:
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in " \t\n,()=!<>":
            self.pos += 1
        return self.text[start:self.pos]

    def take(self, literal: str) -> bool:
        self.skip_space()
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)


def parse(text: str) -> Selector:
    """Parse Kubernetes' label selector syntax; raises SelectorError naming the problem."""
    lexer = _Lexer(text)
    if lexer.at_end():
        return Selector.everything()
    requirements: list[Requirement] = []
    while True:
        requirements.append(_parse_requirement(lexer, text))
        if lexer.at_end():
            break
        if not lexer.take(","):
            raise SelectorError(f"unable to parse requirement: found '{lexer.text[lexer.pos:]}', "
                                f"expected: ',' or end of selector in {text!r}")
    requirements.sort(key=lambda r: r.key)
    return Selector(tuple(requirements))


def _parse_requirement(lexer: _Lexer, text: str) -> Requirement:
    if lexer.take("!"):
        key = lexer.identifier()
        if not key:
            raise SelectorError(f"unable to parse requirement: missing key after '!' in {text!r}")
        return _check(key, Operator.DOES_NOT_EXIST, ())
    key = lexer.identifier()
    if not key:
        raise SelectorError(f"unable to parse requirement: found '{lexer.peek()}', "
                            f"expected: identifier in {text!r}")
    nxt = lexer.peek()
    if nxt in ("", ","):
        return _check(key, Operator.EXISTS, ())
    for literal, operator in (("==", Operator.DOUBLE_EQUALS), ("!=", Operator.NOT_EQUALS),
                              ("=", Operator.EQUALS), (">", Operator.GREATER_THAN),
                              ("<", Operator.LESS_THAN)):
        if lexer.take(literal):
            return _check(key, operator, (lexer.identifier(),))
    word = lexer.identifier()
    if word in ("in", "notin"):
        if not lexer.take("("):
            raise SelectorError(f"unable to parse requirement: found '{lexer.peek()}', "
                                f"expected: '(' in {text!r}")
        values: list[str] = []
        while not lexer.take(")"):
            if lexer.at_end():
                raise SelectorError(f"unable to parse requirement: missing ')' in {text!r}")
            values.append(lexer.identifier())
            if not lexer.take(","):
                if lexer.take(")"):
                    break
                raise SelectorError(f"unable to parse requirement: found '{lexer.peek()}', "
                                    f"expected: ',', or ')' in {text!r}")
        operator = Operator.IN if word == "in" else Operator.NOT_IN
        return _check(key, operator, [v for v in values])
    raise SelectorError(f"unable to parse requirement: found '{word or nxt}', expected: "
                        f"'=', '!=', '==', 'in', notin' in {text!r}")
