"""The pure core: contract terms, business time, classification and SLA evaluation (stdlib only)."""
