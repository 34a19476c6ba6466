"""Local infrastructure and the one-machine network launcher."""
