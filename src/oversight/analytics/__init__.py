"""Analytics: motion, pluggable object detectors, tracking and rules that turn tracks into events.

Entry point: ``oversight.analytics.pipeline.CameraAnalytics`` (one per camera).
"""
