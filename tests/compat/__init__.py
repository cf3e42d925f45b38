"""Compatibility with other clients of the AXP protocol: the official ``axme`` SDK, unmodified."""
