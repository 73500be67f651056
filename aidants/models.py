"""Imports every model module so that the metadata knows every table (for Alembic and tests)."""

from aidants.accounts import activation_models  # noqa: F401
from aidants.accounts import models as accounts_models  # noqa: F401
from aidants.espace_usager import models as espace_usager_models  # noqa: F401
from aidants.habilitation import models as habilitation_models  # noqa: F401
from aidants.jobs import models as jobs_models  # noqa: F401
from aidants.journal import models as journal_models  # noqa: F401
from aidants.mandats import models as mandats_models  # noqa: F401
from aidants.organisations import models as organisations_models  # noqa: F401
from aidants.outbox import models as outbox_models  # noqa: F401
from aidants.referents import models as referents_models  # noqa: F401
from aidants.signing import models as signing_models  # noqa: F401
from aidants.usagers import models as usagers_models  # noqa: F401
