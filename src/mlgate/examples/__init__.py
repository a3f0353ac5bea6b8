"""Bundled examples: generated data and a commented config, no download."""
