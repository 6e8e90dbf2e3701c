"""The two ways a run ends early."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """A run that cannot go on: dead learner, too many dead actors, a worker exception, a lost buffer server."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, acted on at a safe point (see `sac.run.run.StopRequest`)."""
