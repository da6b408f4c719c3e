"""Models of the mitigation app."""
