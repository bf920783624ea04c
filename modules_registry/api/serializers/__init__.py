"""Serializers validate input and format output; they never write rows (services do)."""
