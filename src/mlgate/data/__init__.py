"""Data loading, schema inference and validation, quality score."""
