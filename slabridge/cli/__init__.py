"""The command line: `slabridge <command>`."""
