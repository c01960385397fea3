"""A retry schedule with jitter, shared by the outbox relay, webhook deliveries and
notifications."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Delays (seconds) before each retry: ``delays[0]`` after the first failure, and so on.

    The default follows the Standard Webhooks reference schedule (about 27 hours in all)."""

    delays: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    jitter: float = 0.2  # each delay is moved by up to +-20 %

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(self, failed_attempts: int, spread: float) -> float | None:
        """Delay before the next try after ``failed_attempts`` failures, or None when the
        attempts are used up. ``spread`` in [-1, 1] comes from the caller's randomness."""
        if failed_attempts < 1 or failed_attempts > len(self.delays):
            return None
        base = self.delays[failed_attempts - 1]
        return max(0.0, base * (1 + self.jitter * max(-1.0, min(1.0, spread))))
