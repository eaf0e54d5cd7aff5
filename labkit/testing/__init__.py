"""Helpers for testing labkit and notebooks built on it (shipped, never imported by runtime code)."""

from labkit.testing._leaks import LeakCheck, ResourceLeakError, ResourceSnapshot

__all__ = ["LeakCheck", "ResourceLeakError", "ResourceSnapshot"]
