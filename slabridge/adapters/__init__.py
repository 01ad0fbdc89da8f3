"""Adapters: concrete trackers and state stores behind the ports."""
