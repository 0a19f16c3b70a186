"""The site profile's LAMMPS switches reach every LAMMPS instance atomflow opens."""

import pytest

from atomflow.errors import InputError
from atomflow.md.session import LAMMPS_ARGS_ENV, open_lammps


def test_profile_switches_reach_lammps(monkeypatch):
    monkeypatch.setenv(LAMMPS_ARGS_ENV, "-var site_flag 'hello world'")
    lmp = open_lammps()
    try:
        assert lmp.extract_variable("site_flag") == "hello world"
    finally:
        lmp.close()


def test_unparseable_switches_name_the_variable(monkeypatch):
    monkeypatch.setenv(LAMMPS_ARGS_ENV, "-sf 'omp")
    with pytest.raises(InputError, match=LAMMPS_ARGS_ENV):
        open_lammps()
