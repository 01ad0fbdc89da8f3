"""`python -m slabridge` runs the command line."""

from slabridge.cli import main

main()
