"""The package version (one place; MLflow runs are tagged with it)."""

__version__ = "0.1.0"
