"""Example servers that show otelkit inside real services (not part of the installed package)."""
