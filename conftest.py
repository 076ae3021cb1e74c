"""Repository-level pytest configuration.

``--doctest-modules`` (pyproject.toml) collects every Python file below the test
paths as a doctest module. The two ``conftest.py`` files of ``tests/`` share a
basename, so collecting them as modules would clash; they hold no docstring
examples and are still loaded as conftests.
"""


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "conftest.py":
        return True
    return None
