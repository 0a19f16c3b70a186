"""In-process MD: trajectory capture, energy conservation, thermostat, restarts, MPI."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from atomflow.md.protocols import MDProtocol
from atomflow.md.runner import run_md
from atomflow.potentials import get_potential
from atomflow.structures.li3n import build_li3n
from atomflow.trajectory.h5md import read_h5md

POT = get_potential("li3n-esnap")


def test_nve_conserves_energy(tmp_path):
    """Velocity Verlet at 0.5 fs: total energy drifts by < 2e-5 eV/atom over 1 ps."""
    s = build_li3n((2, 2, 2))
    p = MDProtocol(
        ensemble="nve",
        temperature_K=300,
        steps=2000,
        timestep_fs=0.5,
        sample_every=50,
        restart_every=1000,
    )
    md = run_md(s, POT, p, tmp_path)
    traj = read_h5md(md.trajectory)
    etot = traj.observables["total_energy"] / len(s)
    pe = traj.observables["potential_energy"] / len(s)
    assert len(etot) == 41
    drift = abs(np.polyfit(traj.times_ps, etot, 1)[0] * traj.times_ps[-1])
    assert drift < 2e-5, drift
    assert etot.std() < 0.05 * pe.std()  # exchange between KE and PE, total stays put


def test_thermostat_reaches_set_temperature(tmp_path):
    s = build_li3n((3, 3, 3))
    p = MDProtocol(
        ensemble="nvt",
        temperature_K=600,
        equil_steps=500,
        steps=2500,
        sample_every=25,
        restart_every=500,
    )
    md = run_md(s, POT, p, tmp_path)
    assert md.mean_temperature_K == pytest.approx(600, rel=0.05)
    traj = read_h5md(md.trajectory)
    assert traj.steps[0] == 500 and traj.steps[-1] == 3000
    assert np.all(np.diff(traj.steps) == 25)
    # unwrapped positions: no jump larger than a few Å between frames
    assert np.abs(np.diff(traj.positions, axis=0)).max() < 3.0


def test_npt_keeps_hexagonal_cell_and_gives_lattice(tmp_path):
    s = build_li3n((3, 3, 3))
    p = MDProtocol(
        ensemble="npt",
        temperature_K=300,
        equil_steps=500,
        steps=1500,
        sample_every=20,
        restart_every=500,
    )
    md = run_md(s, POT, p, tmp_path)
    cells = read_h5md(md.trajectory).cells
    a = np.linalg.norm(cells[:, 0], axis=1) / 3
    b = np.linalg.norm(cells[:, 1], axis=1) / 3
    c = np.linalg.norm(cells[:, 2], axis=1) / 3
    assert np.allclose(a, b, rtol=1e-10)  # x and y coupled, tilt follows: stays hexagonal
    assert a.mean() == pytest.approx(3.648, rel=0.015)
    assert c.mean() == pytest.approx(3.875, rel=0.015)


class _Kill(Exception):
    pass


def test_killed_run_resumes_from_restart_with_continuous_trajectory(tmp_path):
    s = build_li3n((2, 2, 2), li_vacancies=1)
    p = MDProtocol(
        ensemble="nvt",
        temperature_K=500,
        equil_steps=200,
        steps=1000,
        sample_every=50,
        restart_every=200,
    )

    def die(fraction, message):
        if "step 750/" in message:
            raise _Kill

    with pytest.raises(_Kill):
        run_md(s, POT, p, tmp_path, progress=die)
    assert read_h5md(tmp_path / "traj.h5").steps[-1] == 750
    md = run_md(s, POT, p, tmp_path)
    assert md.resumed_from_step == 600
    traj = read_h5md(md.trajectory)
    assert list(traj.steps) == list(range(200, 1201, 50))  # no duplicated or missing frame
    assert md.n_frames == len(traj.steps)


def test_kill_minus_nine_then_resume(tmp_path):
    """A real SIGKILL of a running MD process; the re-run continues from its restart."""
    s = build_li3n((2, 2, 2))
    s.to(filename=str(tmp_path / "cell.cif"))
    job = {
        "structure": "cell.cif",
        "potential": "li3n-esnap",
        "workdir": "run",
        "protocol": {
            "ensemble": "nvt",
            "temperature_K": 500,
            "steps": 60000,
            "sample_every": 50,
            "restart_every": 500,
        },
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.Popen([sys.executable, "-m", "atomflow.md", "job.json"], cwd=tmp_path)
    index = tmp_path / "run" / "restart.json"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if index.exists() and max(json.loads(index.read_text())["files"].values()) >= 1000:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the MD process ended before it could be killed"
        proc.kill()  # SIGKILL: no handler runs, no restart is written at the kill
    finally:
        proc.wait()
    killed_at = int(read_h5md(tmp_path / "run" / "traj.h5").steps[-1])
    assert killed_at >= 1000
    job["protocol"]["steps"] = killed_at + 500
    (tmp_path / "job.json").write_text(json.dumps(job))
    out = subprocess.run(
        [sys.executable, "-m", "atomflow.md", "job.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["resumed_from_step"] >= 1000
    steps = read_h5md(tmp_path / "run" / "traj.h5").steps
    assert np.all(np.diff(steps) == 50) and steps[-1] == killed_at + 500


@pytest.mark.skipif(
    shutil.which("mpiexec", path=os.path.dirname(sys.executable)) is None,
    reason="mpiexec from the mpich wheel not found next to the interpreter",
)
def test_same_task_runs_under_mpiexec_with_two_ranks(tmp_path):
    s = build_li3n((3, 3, 3))
    s.to(filename=str(tmp_path / "cell.cif"))
    job = {
        "structure": "cell.cif",
        "potential": "li3n-esnap",
        "workdir": "mpi",
        "protocol": {
            "ensemble": "nve",
            "temperature_K": 300,
            "steps": 200,
            "sample_every": 50,
            "restart_every": 100,
            "timestep_fs": 0.5,
        },
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    out = subprocess.run(
        [mpiexec, "-np", "2", sys.executable, "-m", "atomflow.md", "job.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    log = (tmp_path / "mpi" / "log.lammps").read_text()
    grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid", log)
    assert grid and np.prod([int(g) for g in grid.groups()]) == 2
    job["workdir"] = "serial"
    (tmp_path / "job.json").write_text(json.dumps(job))
    subprocess.run(
        [sys.executable, "-m", "atomflow.md", "job.json"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    par = read_h5md(tmp_path / "mpi" / "traj.h5")
    ser = read_h5md(tmp_path / "serial" / "traj.h5")
    assert list(par.steps) == list(ser.steps)
    # same physics on 1 and 2 ranks (summation order differs: agreement, not bitwise)
    assert np.allclose(par.positions, ser.positions, atol=1e-6)
    assert np.allclose(par.observables["total_energy"], ser.observables["total_energy"], rtol=1e-8)


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm on this system")
def test_a_lammps_process_leaves_no_shared_memory_segment():
    """Each process that ends without MPI_Finalize leaves an mpich segment in /dev/shm; a later
    job with the same name (recycled Slurm job id) then fails in MPI_Init."""
    before = set(Path("/dev/shm").glob("mpich_shm_*"))
    code = "from atomflow.md.session import open_lammps; open_lammps().close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert set(Path("/dev/shm").glob("mpich_shm_*")) - before == set()
