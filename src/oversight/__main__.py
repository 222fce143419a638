"""``python -m oversight``: the same command line as the ``oversight`` script."""

from oversight.cli import main

main()
