"""Imports every OpenID Connect model so that the metadata knows their tables (Alembic, tests)."""

from oidc.provider import models as provider_models  # noqa: F401
