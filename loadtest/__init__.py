"""The canary load tester: a standalone HTTP service that runs webhook tasks and holds gates.

It is importable and deployable on its own (it never imports ``canary``; an import-linter contract
keeps it so).  Its API, compatible with flagger-loadtester, arrives with the webhooks issue; this
package holds only its version for now.
"""

__version__ = "0.1.0"
