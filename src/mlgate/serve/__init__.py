"""mlgate.serve."""
