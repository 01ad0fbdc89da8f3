"""`slabridge run`: the scheduler, and the health and metrics listener."""
