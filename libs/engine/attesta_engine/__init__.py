"""Inference engines behind one port: generation with top-k artifacts, and scoring."""
