"""Fixtures from mmpose-ext's test kit: ``no_network`` blocks sockets and DNS in a test, HF set offline."""

from mmpx.testing import no_network  # noqa: F401
