"""mlgate.ci."""
