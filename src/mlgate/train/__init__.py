"""mlgate.train."""
