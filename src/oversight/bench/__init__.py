"""Benchmarks (`oversight bench ...`): JSON output, compared against a floor measured in the same run."""
