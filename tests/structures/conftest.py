"""Shared settings for the structures tests: reference CIFs are ideal, so pymatgen's
rounding notice is expected; spglib's deprecation notice is not ours."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/structures" in str(item.fspath):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Issues encountered while parsing CIF")
            )
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
