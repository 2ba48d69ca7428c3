"""Health probes: what is checked on a target and how it is fetched."""
