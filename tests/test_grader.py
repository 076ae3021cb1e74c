"""coursekit.grading.grader: what the grader makes of the kernel's replies (the parts that need no kernel)."""

from __future__ import annotations

import numpy as np

from coursekit.grading import plaindata as pd
from coursekit.grading.grader import show_changes


def test_an_argument_changed_in_the_kernel_is_changed_for_the_caller():
    t = np.array([-1.0, 0.0, 2.0])
    keep = t.copy()
    out, opts = [], {"a": 1}
    reply = {"status": "ok", "changed_args": {"0": pd.encode(np.array([0.0, 0.0, 2.0])), "1": pd.encode([7])},
             "changed_kwargs": {"opts": pd.encode({"a": 2})}}
    assert show_changes((t, out), {"opts": opts}, reply) == ["argument 1", "argument 2", "opts"]
    np.testing.assert_array_equal(t, [0.0, 0.0, 2.0])
    assert not np.array_equal(t, keep)  # what check_waveform's "changed the array t" compares
    assert out == [7] and opts == {"a": 2}


def test_what_cannot_take_the_change_is_left_alone():
    t, frozen = np.arange(3.0), np.arange(3.0)
    frozen.flags.writeable = False
    reply = {"changed_args": {"0": pd.encode(np.arange(4.0)),           # another shape
                              "1": pd.encode(np.arange(3)),             # another dtype
                              "2": pd.encode(np.zeros(3)),              # read-only array of the caller
                              "3": pd.encode(5.0),                      # a number: nothing to change in place
                              "9": pd.encode(np.zeros(3)),              # no such argument
                              "x": pd.encode(np.zeros(3)),              # not a position
                              "4": {"__pickle__": "gASV"}}}             # not plain data
    args = (t, np.arange(3.0), frozen, 1.0, np.arange(3.0))
    assert show_changes(args, {}, reply) == []
    np.testing.assert_array_equal(t, np.arange(3.0))
    np.testing.assert_array_equal(frozen, np.arange(3.0))


def test_a_kernel_that_sends_nothing_back_changes_nothing():
    t = np.arange(3.0)
    assert show_changes((t,), {}, {"status": "ok"}) == []
    assert show_changes((t,), {}, {"status": "ok", "changed_args": "lies"}) == []
    assert show_changes((t,), {}, {"status": "ok", "changed_args": {"0": pd.encode(np.arange(3.0))}}) == []
    np.testing.assert_array_equal(t, np.arange(3.0))
