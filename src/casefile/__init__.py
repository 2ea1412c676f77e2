"""Casefile: the back office where a platform's staff investigate and act."""

__version__ = "0.1.0"
