"""`python -m slabridge` runs the command line."""

from slabridge.cli.main import main

main()
