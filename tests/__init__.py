"""remediator's test suite."""
