"""Detection: rules from rules/, model detectors, the engine that runs them."""

from guard import offline as _offline  # noqa: F401  - configure offline before Presidio loads
