"""URL rules whose builders are compiled when a URL is first built from them, not when the app starts.

Werkzeug compiles two Python functions per rule as the rule is registered (one to build its URL with
unknown arguments as a query string, one without), by building an AST and calling ``compile()``: about
0.5 ms a rule, so with our ~150 rules a large share of ``create_app``. A worker builds URLs from a few
dozen rules in its life; each rule here compiles its builder the first time ``url_for`` needs it, with
Werkzeug's own code, so the URLs are exactly the same. Matching (the rule's regular expression) is
untouched: it is compiled by the map as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule

Builder = Callable[..., tuple[str, str]]


class LazyBuilderRule(Rule):
    """A ``Rule`` that compiles each of its two URL builders on first use (Flask's ``url_rule_class``)."""

    def _compile_builder(self, append_unknown: bool = True) -> Builder:
        """A stand-in that compiles the real builder at its first call, keeps it on the rule, and calls it.

        ``Rule.compile`` binds what this returns as ``self._build`` / ``self._build_unknown``; the
        stand-in replaces that attribute with the real bound builder, so later calls go straight to it.
        Two threads building the same rule at once both compile the same function: harmless.
        """
        attribute = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule: LazyBuilderRule, **values: Any) -> tuple[str, str]:
            builder: Builder = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, attribute, builder)
            return builder(**values)

        return build_on_first_use
