"""Threshold rules (``">= 0.7"``): the spec's syntax, read by scoring and by the gates."""

from __future__ import annotations

import math
import operator
import re

from workbench.errors import ConfigError

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_RULE = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_rule(rule: str) -> tuple[str, float]:
    """``">= 0.7"`` -> ``(">=", 0.7)``; anything else is a ConfigError."""
    m = _RULE.match(rule)
    if not m:
        raise ConfigError(f"bad threshold '{rule}'", hint="write it like '>= 0.7'")
    return m.group(1), float(m.group(2))


def holds(value: float, rule: str) -> bool:
    """Whether ``value`` meets ``rule``; NaN (unscored) never does."""
    op, bound = parse_rule(rule)
    return not math.isnan(value) and bool(OPS[op](value, bound))
