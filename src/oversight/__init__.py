"""Oversight: public-safety video with privacy and accountability enforced by the software."""

__version__ = "0.1.0"
