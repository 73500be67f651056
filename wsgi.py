"""What gunicorn serves: ``gunicorn wsgi:app``.

A configuration error (a missing secret in production) stops the start with one
clear line instead of a traceback.
"""

import sys

from aidants import create_app
from aidants.config import ConfigError

#: gunicorn's "App failed to load" status: its master then stops instead of
#: starting new workers forever (any other status makes it retry in a loop).
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as error:
    print(f"aidants: {error}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
