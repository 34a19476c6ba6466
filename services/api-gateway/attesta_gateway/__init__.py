"""Attesta API gateway: the OpenAI-compatible front door of the network."""
