"""Shared pytest fixtures.

Brian2 keeps global state: its preferences (``prefs``), ``defaultclock.dt``,
the magic network's scope and the active device. Tests marked ``brian``
(``pytestmark = pytest.mark.brian``) get that state reset before and restored
after each test, as in Brian2's own test suite (``brian2/conftest.py``), so no
test sees what another one changed. Unmarked tests do not import Brian2.
The fixture is also available by name (``brian_defaults``) for unmarked tests.
"""

import pytest

from brian_state import brian_reset


@pytest.fixture
def brian_defaults():
    """Brian2 defaults for one test (see :func:`brian_reset`)."""
    yield from brian_reset()


@pytest.fixture(autouse=True)
def _brian_isolation(request):
    """Apply :func:`brian_reset` to every test marked ``brian``."""
    if request.node.get_closest_marker("brian") is None:
        yield
        return
    yield from brian_reset()
