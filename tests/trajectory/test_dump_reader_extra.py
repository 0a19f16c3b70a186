"""More LAMMPS dump cases: general triclinic boxes, element columns, trailing spaces, species
selection, and minimum-image unwrapping carried across blocks."""

import numpy as np
import pytest

from atomflow.errors import InputError
from atomflow.trajectory.lammps_dump import read_lammps_dump

GENERAL = np.array([[7.0, 1.0, 0.5], [-2.0, 8.0, 1.0], [1.0, -1.5, 9.0]])  # rotated, any shape
ORIGIN = np.array([-3.0, 2.0, 0.5])


pytestmark = pytest.mark.usefixtures("threads")  # one and two threads


def _walk(n_frames, n_atoms, step, seed=0):
    rng = np.random.default_rng(seed)
    start = ORIGIN + rng.uniform(0, 1, (n_atoms, 3)) @ GENERAL
    return start + np.cumsum(rng.normal(0, step, (n_frames, n_atoms, 3)), axis=0)


def _write_general(path, truth, columns, trailing=""):
    """A 'BOX BOUNDS abc origin' dump (LAMMPS ≥ 2024 general triclinic)."""
    inv = np.linalg.inv(GENERAL)
    with open(path, "w") as f:
        for k, r in enumerate(truth):
            frac = (r - ORIGIN) @ inv
            img = np.floor(frac)
            vals = {
                "id": np.arange(1, len(r) + 1),
                "element": np.array(["Li", "Cl", "Cl", "Zr", "Li"] * 2)[: len(r)],
                "type": np.array([1, 2, 2, 3, 1] * 2)[: len(r)],
                "x": (ORIGIN + (frac - img) @ GENERAL)[:, 0],
                "y": (ORIGIN + (frac - img) @ GENERAL)[:, 1],
                "z": (ORIGIN + (frac - img) @ GENERAL)[:, 2],
                "xs": (frac - img)[:, 0],
                "ys": (frac - img)[:, 1],
                "zs": (frac - img)[:, 2],
                "ix": img[:, 0].astype(int),
                "iy": img[:, 1].astype(int),
                "iz": img[:, 2].astype(int),
            }
            f.write(f"ITEM: TIMESTEP\n{100 * k}\nITEM: NUMBER OF ATOMS\n{len(r)}\n")
            f.write("ITEM: BOX BOUNDS abc origin pp pp pp\n")
            for row, o in zip(GENERAL, ORIGIN, strict=True):
                f.write(" ".join(repr(float(v)) for v in (*row, o)) + "\n")
            f.write(f"ITEM: ATOMS {columns}\n")
            order = np.random.default_rng(k).permutation(len(r))
            for i in order:
                f.write(
                    " ".join(
                        repr(float(vals[c][i])) if vals[c].dtype.kind == "f" else str(vals[c][i])
                        for c in columns.split()
                    )
                    + trailing
                    + "\n"
                )


@pytest.mark.parametrize("columns", ["id element x y z ix iy iz", "ix xs id ys iy element zs iz"])
def test_general_triclinic_with_elements_unwraps_exactly(tmp_path, columns):
    truth = _walk(12, 10, 2.0)
    _write_general(tmp_path / "g.dump", truth, columns, trailing=" ")
    traj = read_lammps_dump(tmp_path / "g.dump", 0.001)
    np.testing.assert_allclose(traj.positions, truth, atol=1e-9)
    np.testing.assert_allclose(traj.cells[3], GENERAL)
    np.testing.assert_allclose(traj.times_ps, np.arange(12) * 0.1)
    assert traj.species.tolist() == ["Li", "Cl", "Cl", "Zr", "Li"] * 2


def test_species_selection_and_type_list(tmp_path):
    truth = _walk(6, 10, 0.5)
    _write_general(tmp_path / "g.dump", truth, "id type x y z ix iy iz")
    traj = read_lammps_dump(tmp_path / "g.dump", 0.002, types=["Li", "Cl", "Zr"], species="Cl")
    np.testing.assert_allclose(traj.positions, truth[:, [1, 2, 6, 7]], atol=1e-9)
    assert traj.species.tolist() == ["Cl"] * 4
    with pytest.raises(InputError, match="no atoms of species"):
        read_lammps_dump(tmp_path / "g.dump", 0.002, species="K")


def test_minimum_image_is_carried_across_tiny_blocks(tmp_path):
    truth = _walk(30, 5, 0.6, seed=3)  # small steps, many crossings over 30 frames
    _write_general(tmp_path / "g.dump", truth, "id type x y z")
    whole = read_lammps_dump(tmp_path / "g.dump", 0.001)
    tiny = read_lammps_dump(tmp_path / "g.dump", 0.001, chunk_mb=0.0005)
    np.testing.assert_allclose(whole.positions - whole.positions[0], truth - truth[0], atol=1e-9)
    np.testing.assert_allclose(tiny.positions, whole.positions, atol=1e-12)


def test_shuffled_ids_beyond_frame_zero_must_match(tmp_path):
    truth = _walk(3, 5, 0.3)
    _write_general(tmp_path / "g.dump", truth, "id type xs ys zs ix iy iz")
    text = (tmp_path / "g.dump").read_text().split("ITEM: TIMESTEP")
    text[3] = text[3].replace("\n5 ", "\n9 ")  # frame 2 holds atom id 9 instead of 5
    (tmp_path / "b.dump").write_text("ITEM: TIMESTEP".join(text))
    with pytest.raises(InputError, match="frame 2 holds other atom ids"):
        read_lammps_dump(tmp_path / "b.dump", 0.001)
