"""``python -m loadtest``: the load tester's entry point.

The HTTP service is not built yet (webhooks issue); this exits non-zero and says so, rather than
pretending to serve.
"""

import sys

from loadtest import __version__

sys.stderr.write(f"canary loadtest {__version__}: the load tester service is not implemented yet\n")
sys.exit(1)
