"""LabelSelector validation and the selector-against-template checks controllers share.

``ValidateLabelSelector`` in apimachinery checks matchLabels like labels and every
matchExpression's operator, key and values; the workload kinds then require a non-empty
selector that matches their pod template's labels.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.apiserver.validation.common import message_json
from controlplane.apiserver.validation.meta import validate_labels
from kemu.api import errors, labels
from kemu.api.errors import FieldError
from kemu.api.names import label_value_problems, qualified_name_problems
from kemu.v1 import meta_pb2

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def validate_label_selector(selector: meta_pb2.LabelSelector, path: str) -> list[FieldError]:
    found = validate_labels(selector.match_labels, f"{path}.matchLabels")
    for i, expr in enumerate(selector.match_expressions):
        item = f"{path}.matchExpressions[{i}]"
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                found.append(errors.required(
                    f"{item}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                found.append(errors.forbidden(
                    f"{item}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            found.append(errors.invalid(f"{item}.operator", expr.operator,
                                        "not a valid selector operator"))
        for problem in qualified_name_problems(expr.key):
            found.append(errors.invalid(f"{item}.key", expr.key, problem))
        for j, value in enumerate(expr.values):
            for problem in label_value_problems(value):
                found.append(errors.invalid(f"{item}.values[{j}]", value, problem))
    return found


def workload_selector(selector: meta_pb2.LabelSelector | None, template_labels: Mapping[str, str],
                      path: str, template_path: str, kind_word: str) -> list[FieldError]:
    """The apps/v1 rules: a selector is required, valid, non-empty and matches the template.

    ``kind_word`` is how Kubernetes names the kind in "empty selector is invalid for ..."
    (ReplicaSets say "deployment" there, as Kubernetes does).
    """
    found: list[FieldError] = []
    if selector is None:
        found.append(errors.required(path))
        found.append(errors.invalid(f"{template_path}.metadata.labels", dict(template_labels),
                                    SELECTOR_MISMATCH))
        return found
    problems = validate_label_selector(selector, path)
    found.extend(problems)
    if not selector.match_labels and not selector.match_expressions:
        found.append(errors.invalid(path, message_json(selector),
                                    f"empty selector is invalid for {kind_word}"))
        return found
    try:
        parsed = labels.from_label_selector(selector)
    except labels.SelectorError:
        found.append(errors.invalid(path, message_json(selector), "invalid label selector"))
        return found
    if not problems and not parsed.matches(template_labels):
        found.append(errors.invalid(f"{template_path}.metadata.labels", dict(template_labels),
                                    SELECTOR_MISMATCH))
    return found
