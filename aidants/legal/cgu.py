"""The versions of the CGU (conditions générales d'utilisation): each version's text is a template, never edited.

Publishing new CGU: add ``templates/legal/cgu/<version>.html``, add the version below and make it current;
every aidant is then asked to accept it at their next page (``aidants.legal.views``).
"""

from __future__ import annotations

import datetime as dt

#: Every published version and the day it took effect, oldest first.
CGU_VERSIONS: dict[str, dt.date] = {
    "v1": dt.date(2026, 12, 1),
}

#: The version an aidant must have accepted (``Aidant.cgu_version``) to use the service.
CURRENT_CGU_VERSION = "v1"
assert CURRENT_CGU_VERSION in CGU_VERSIONS


def template_of(version: str) -> str:
    """The template holding a version's full text."""
    if version not in CGU_VERSIONS:
        raise KeyError(version)
    return f"legal/cgu/{version}.html"
