"""tools role."""
