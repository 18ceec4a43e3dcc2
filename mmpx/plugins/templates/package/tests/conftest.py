"""Fixtures from mmpose-ext's helpers for plugin tests."""

from mmpx.testing import no_network  # noqa: F401  (a fixture: any network access fails the test)
