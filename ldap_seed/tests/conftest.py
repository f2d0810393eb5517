"""This suite's fixtures: the shared ones (``devstack.fixtures``)."""

from devstack.fixtures import *  # noqa: F403
