"""ui role."""
