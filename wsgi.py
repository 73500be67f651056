"""What gunicorn serves: ``gunicorn wsgi:app``.

A configuration error (a missing secret in production) stops the start with one
clear line instead of a traceback.
"""

import sys

from aidants import create_app
from aidants.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    print(f"aidants: {error}", file=sys.stderr)
    sys.exit(1)
