"""The canary load tester: a standalone HTTP service that runs webhook tasks and holds gates.

It is importable and deployable on its own (it never imports ``canary``; an import-linter contract
keeps it so).  Its API is flagger-loadtester's (``loadtest.server``), with gates that survive a
restart (``loadtest.state``), tasks without a shell (``loadtest.tasks``) and a built-in open-model
load generator (``loadtest.generator``).
"""

__version__ = "0.1.0"
