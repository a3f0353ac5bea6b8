"""mlgate.deploy."""
