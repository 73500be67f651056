"""What the app builds at start and what it leaves for first use: URL builders, Celery, the HTTP client.

Nothing here measures time (``bench.boot`` prints the figures); these tests check that the lazy parts
give exactly what the eager ones gave, and that a fresh process does not import what it does not use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import Map, Rule

from aidants.routing import LazyBuilderRule
from tests.conftest import TEST_SECRETS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES: dict[str, Any] = {"int": 7, "path": "a/b c", "uuid": "5f0c2b1e-0d1f-4f2e-9a57-3b7f6d1c2a90",
                           "default": "x y/é"}


def _sample(rule: Rule, name: str) -> Any:
    converter = type(rule._converters[name]).__name__.lower()
    for key, value in SAMPLES.items():
        if key in converter:
            return value
    return SAMPLES["default"]


def test_every_rule_builds_the_url_werkzeug_builds_eagerly(app: Flask) -> None:
    eager = Map(converters=dict(app.url_map.converters))
    rules = [rule for rule in app.url_map.iter_rules() if isinstance(rule, LazyBuilderRule)]
    assert len(rules) > 100  # every blueprint's rules, not only the static route
    twins = []
    for rule in rules:
        twin = Rule(rule.rule, endpoint=rule.endpoint, defaults=rule.defaults, methods=rule.methods)
        eager.add(twin)
        twins.append((rule, twin))
    for rule, twin in twins:
        values = {name: _sample(rule, name) for name in rule.arguments if name not in (rule.defaults or {})}
        for append_unknown in (True, False):
            extra = {"suite": "1 & 2"} if append_unknown else {}
            expected = twin.build({**values, **extra}, append_unknown=append_unknown)
            assert rule.build({**values, **extra}, append_unknown=append_unknown) == expected, rule.rule
            assert rule.build({**values, **extra}, append_unknown=append_unknown) == expected, rule.rule


def test_a_rule_keeps_its_compiled_builder_after_the_first_use(app: Flask) -> None:
    rule = next(rule for rule in app.url_map.iter_rules() if isinstance(rule, LazyBuilderRule) and rule.arguments)
    values = {name: _sample(rule, name) for name in rule.arguments}
    rule.build(values)
    compiled = rule._build_unknown
    rule.build(values)
    assert rule._build_unknown is compiled
    assert compiled.__name__.startswith("<builder:")  # werkzeug's own builder, not the stand-in


PROBE = """
import json, sys
import aidants
app = aidants.create_app()
loaded = sorted(name for name in ("celery", "kombu", "requests", "authlib.integrations.requests_client")
                if name in sys.modules)
from aidants.jobs.engine import celery_app
first = celery_app()
follows_first = first.conf["flask_app"] is app
other = aidants.create_app()
print(json.dumps({"loaded": loaded, "follows_first": follows_first,
                  "follows_latest": celery_app().conf["flask_app"] is other, "same": celery_app() is first,
                  "broker": celery_app().conf.broker_url == other.config["CELERY_BROKER_URL"]}))
"""


def test_a_fresh_process_imports_celery_and_requests_only_when_first_used(tmp_path: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("FC_", "CELERY_"))}
    environ.update({"AIDANTS_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'boot.sqlite3'}",
                    "AIDANTS_INSTANCE": str(tmp_path / "instance"), **TEST_SECRETS})
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures == {"loaded": [], "follows_first": True, "follows_latest": True, "same": True, "broker": True}
