"""``python -m canary`` runs the same command line as the ``canary`` script."""

from canary.cli import main

main()
