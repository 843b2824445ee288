"""The controller does not load scipy.stats until a canary is judged: the import costs about 70 MiB,
which counts against the memory target of the scale benchmark (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys


def test_starting_the_controller_does_not_import_scipy_stats() -> None:
    code = (
        "import sys, canary.cli, canary.operator.main, canary.adapters.metrics.analysis\n"
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = (
        "import sys\n"
        "from canary.core.judge import Comparison, judge\n"
        "judge({'m': ([1.0] * 10 + [2.0], [1.0] * 11)}, [Comparison('m')])\n"
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
