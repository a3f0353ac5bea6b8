"""mlgate.monitor."""
