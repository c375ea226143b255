"""router: alerts from the ``alerts`` topic to on-call webhooks (docs/services/router.md)."""

import sys

from .app import main

sys.exit(main())
