"""Limits defined once: ``sandbox.Policy``'s defaults are ``TrustedExecute``'s, and the policies carry the traits.

The numbers live in ``coursekit/grading/sandbox/policy.py``; changing one there changes the
Policy default, the trait default and what the kernel or the grader gets. No kernel is started.
"""

from __future__ import annotations

import dataclasses

import pytest

from coursekit.grading import sandbox
from coursekit.grading.execute import TrustedExecute
from coursekit.grading.sandbox import policy as limits

#: Policy field -> the TrustedExecute trait that sets it, for the kernel and for the grader.
KERNEL = {"memory": "kernel_memory", "file_size": "file_size", "open_files": "open_files", "processes": "processes"}
GRADER = {**KERNEL, "memory": "grader_memory"}
#: Limits of TrustedExecute that are not Policy fields (kept by the grading process itself).
OTHER_LIMITS = ("disk_quota", "max_cell_output", "max_notebook_output", "call_timeout", "notebook_timeout",
                "max_restarts")

#: What grading has applied since before the limits were defined once (behaviour unchanged).
APPLIED = {"kernel_memory": 4 << 30, "grader_memory": 6 << 30, "file_size": 64 << 20, "open_files": 256,
           "processes": 0}


def _trait_default(name: str):
    return TrustedExecute.class_traits()[name].default_value


def test_policy_defaults_are_the_trait_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(sandbox.Policy)}
    for field, trait in KERNEL.items():
        assert defaults[field] == _trait_default(trait), (field, trait)
    assert _trait_default("grader_memory") == limits.GRADER_MEMORY


def test_the_defaults_are_what_grading_applied_before():
    assert {name: _trait_default(name) for name in APPLIED} == APPLIED


def test_every_limit_is_a_configurable_trait_with_help():
    traits = TrustedExecute.class_traits(config=True)
    for name in set(KERNEL.values()) | set(GRADER.values()) | set(OTHER_LIMITS):
        assert name in traits, name
        assert len(traits[name].help.split()) >= 4, name


@pytest.fixture
def changed():
    """A TrustedExecute whose every limit differs from its default."""
    return TrustedExecute(kernel_memory=3 << 30, grader_memory=5 << 30, file_size=32 << 20, open_files=128,
                          processes=2)


def test_the_kernel_policy_carries_each_trait(changed, tmp_path):
    policy = changed.kernel_policy(tmp_path)
    assert {field: getattr(policy, field) for field in KERNEL} == {f: getattr(changed, t) for f, t in KERNEL.items()}
    assert policy.write == (str(tmp_path / "kernel"),)


def test_the_grader_policy_carries_each_trait(changed, tmp_path):
    policy = changed.grader_policy(tmp_path)
    assert {field: getattr(policy, field) for field in GRADER} == {f: getattr(changed, t) for f, t in GRADER.items()}
    assert policy.write == (str(tmp_path / "grader"),)


def test_the_default_policies_hold_the_applied_values(tmp_path):
    te = TrustedExecute()
    kernel, grader = te.kernel_policy(tmp_path), te.grader_policy(tmp_path)
    assert (kernel.memory, grader.memory) == (APPLIED["kernel_memory"], APPLIED["grader_memory"])
    for policy in (kernel, grader):
        assert (policy.file_size, policy.open_files, policy.processes) == (
            APPLIED["file_size"], APPLIED["open_files"], APPLIED["processes"])
        assert policy.private_proc and policy.separate and not policy.network


def test_grading_uses_these_policies(changed, tmp_path, monkeypatch):
    """What preprocess() applies (_policies) is kernel_policy and grader_policy, wherever the sandbox works."""
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: None)
    changed._root = tmp_path
    assert changed._policies() == (changed.kernel_policy(tmp_path), changed.grader_policy(tmp_path))
