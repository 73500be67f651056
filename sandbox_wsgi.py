"""The FranceConnect sandbox and the demonstration service, in a process of their own (``make run``).

They call back into the service (token, userinfo) while a browser waits on them: served by the
service's own gunicorn they took its threads and starved it under load. Here they have their own
gunicorn (PORT+1); the service reaches the sandbox through FC_ISSUER, the demonstration service
reaches the provider through SANDBOX_PROVIDER_URL. Development and training only.
"""

import sys

from aidants import create_app
from aidants.config import ConfigError

APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as error:
    print(f"aidants (bac à sable): {error}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
if app.config["ENV_IS_PRODUCTION"] or not app.config["FC_SANDBOX"]:
    print("aidants (bac à sable): the sandbox is for development only (FC_SANDBOX=true)", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
