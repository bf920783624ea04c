"""The REST API (DRF): thin views over the registry's selectors and services."""
