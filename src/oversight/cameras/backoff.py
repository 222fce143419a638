"""Exponential backoff with full jitter, so a site full of cameras does not reconnect in lockstep."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 2.0, jitter: float = 0.5):
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter  # fraction of the delay that is randomised
        self.attempt = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * (self.factor**self.attempt))
        self.attempt += 1
        return base * (1 - self.jitter) + random.uniform(0, base * self.jitter)

    def reset(self) -> None:
        self.attempt = 0
