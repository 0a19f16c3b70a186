"""Shared fixtures of the trajectory tests."""

import pytest

import atomflow.trajectory.lammps_dump as ld


@pytest.fixture(params=["one thread", "two threads"])
def threads(request, monkeypatch):
    """Run a test also with any plain file read as two halves in two threads, as large
    ones are (modules opt in with ``pytestmark = pytest.mark.usefixtures("threads")``)."""
    if request.param == "two threads":
        monkeypatch.setattr(ld, "_SPLIT_MIN", 0)
    return request.param
