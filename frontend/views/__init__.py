"""Thin views: read through selectors, write through services, render templates."""
