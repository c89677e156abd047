"""index role."""
