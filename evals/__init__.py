"""evals role."""
