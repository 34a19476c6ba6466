"""Shared building blocks of the Attesta services."""
