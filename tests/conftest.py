"""Shared pytest fixtures.

Brian2 keeps global state: its preferences (``prefs``), ``defaultclock.dt``,
the magic network's scope and the active device. Tests marked ``brian``
(``pytestmark = pytest.mark.brian``) get that state reset before and restored
after each test, as in Brian2's own test suite (``brian2/conftest.py``), so no
test sees what another one changed. Unmarked tests do not import Brian2.
The fixture is also available by name (``brian_defaults``) for unmarked tests.
"""

import pytest

#: Code generation target for tests: numpy never compiles, so tests stay fast.
TEST_CODEGEN_TARGET = "numpy"


def brian_reset():
    """Generator: reset Brian2's global state, yield, then restore and reset again.

    Before the test: preferences reset to Brian2's defaults with
    ``prefs.codegen.target = "numpy"``, ``defaultclock.dt = 0.1 ms``, a new
    magic-network scope (``start_scope()``) and the runtime device. After the
    test: the preferences saved before are restored and ``defaultclock.dt`` and
    the scope are reset once more.
    """
    import brian2
    from brian2.devices.device import get_device, runtime_device, set_device

    saved = dict(brian2.prefs.prefs)
    brian2.prefs.reset_to_defaults()
    brian2.prefs.codegen.target = TEST_CODEGEN_TARGET
    if get_device() is not runtime_device:
        set_device(runtime_device)
    brian2.defaultclock.dt = 0.1 * brian2.ms
    brian2.start_scope()
    try:
        yield
    finally:
        brian2.prefs.prefs.update(saved)
        if get_device() is not runtime_device:
            set_device(runtime_device)
        brian2.defaultclock.dt = 0.1 * brian2.ms
        brian2.start_scope()


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
