"""Head samplers with spec-consistent thresholds (``th``) so counts stay correct."""
