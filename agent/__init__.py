"""agent role."""
