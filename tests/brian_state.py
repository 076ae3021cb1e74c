"""Brian2 global-state reset shared by tests/conftest.py and the tests that check it.

A module of its own (not conftest.py): tests/browser/ has a conftest.py too, so
``from conftest import ...`` would depend on which one was imported first.
"""


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
