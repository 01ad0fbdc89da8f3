"""Configuration: the YAML files, their models and checks, and the Config the rest reads."""
