"""Full stories: the fixtures of tests/operator (the real controller per test) are shared here."""

from tests.operator.conftest import controller, hooks, pytest_runtest_makereport

__all__ = ["controller", "hooks", "pytest_runtest_makereport"]
