"""Analytics: motion, pluggable object detectors, tracking and rules that turn tracks into events."""
