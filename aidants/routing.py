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

from flask import current_app, has_request_context, request, url_for
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


#: At most this many links kept per app: the key holds only endpoints and arguments written in templates, but a
#: bound keeps a mistake (a link with per-request arguments) from growing without end.
LINK_CACHE_SIZE = 512


def fixed_link(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` for a page's fixed links (the layout's assets, header and footer), built
    once per worker and per script root.

    The URL map does not change once the app serves, and the app has no host or subdomain matching nor URL
    defaults, so a relative URL depends only on the endpoint, its arguments and the request's script root
    (``SCRIPT_NAME``, set by the server, not by the client). ``base.html`` builds ~18 links per page; this
    keeps them to a dictionary look-up. The URLs are exactly ``url_for``'s (it builds each the first time).
    """
    if not has_request_context():  # an email or a CLI render: no script root to key on
        return url_for(endpoint, **values)
    cache: dict[tuple[Any, ...], str] = current_app.extensions.setdefault("fixed_links", {})
    key = (request.script_root, endpoint, *sorted(values.items()))
    link = cache.get(key)
    if link is None:
        link = url_for(endpoint, **values)
        if len(cache) < LINK_CACHE_SIZE:
            cache[key] = link
    return link
