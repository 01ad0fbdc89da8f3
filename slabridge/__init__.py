"""slabridge: contract-aware SLA bridge for issue trackers."""

from slabridge.config.loader import Config, load_config

__version__ = "0.1.0"
__all__ = ["Config", "__version__", "load_config"]
