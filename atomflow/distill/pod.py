"""Fit a POD potential with LAMMPS ``fitpod`` on top of a ZBL repulsive baseline.

The fit is delta learning: the baseline's energies and forces are subtracted from the labels
before ``fitpod`` sees them, and the shipped potential is ``hybrid/overlay pod zbl``. ZBL is
switched off between ``zbl_inner`` and ``zbl_outer``; with ``zbl_outer`` at or below the
closest pair in the data, the baseline is exactly the labeller's business nowhere and a hard
wall below it, where a linear model has no repulsion of its own.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from ase import Atoms
from ase.data import atomic_numbers
from pydantic import BaseModel, ConfigDict, model_validator

from atomflow.distill.dataset import write_frames
from atomflow.distill.labellers import evaluate_potential, labelled_copy
from atomflow.errors import InputError
from atomflow.potentials import Potential
from atomflow.potentials.registry import load_potential_file


class PODSettings(BaseModel):
    """POD descriptors and least-squares settings (see the LAMMPS ``fitpod`` manual)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rcut: float = 5.5
    rin: float = 0.5
    bessel_degree: int = 4
    inverse_degree: int = 8
    twobody_radial: int = 6
    threebody_radial: int = 5
    threebody_angular: int = 4
    #: four-body terms (0 = none); their count grows fast with the angular degree
    fourbody_radial: int = 0
    fourbody_angular: int = 0
    #: fields that stay out of task inputs at their default (see distill.task_inputs)
    added_later: ClassVar[tuple[str, ...]] = (
        "fourbody_radial",
        "fourbody_angular",
    )
    regularization: float = 1e-6
    weight_energy: float = 100.0
    weight_force: float = 1.0
    zbl_inner: float = 1.0
    zbl_outer: float = 1.6

    @model_validator(mode="after")
    def _ordered(self) -> PODSettings:
        if not 0 < self.zbl_inner < self.zbl_outer < self.rcut:
            raise ValueError(
                f"need 0 < zbl_inner ({self.zbl_inner}) < zbl_outer ({self.zbl_outer}) "
                f"< rcut ({self.rcut})"
            )
        return self


def _param_text(elements: Sequence[str], s: PODSettings) -> str:
    return "\n".join(
        [
            f"species {' '.join(elements)}",
            "pbc 1 1 1",
            f"rin {s.rin}",
            f"rcut {s.rcut}",
            f"bessel_polynomial_degree {s.bessel_degree}",
            f"inverse_polynomial_degree {s.inverse_degree}",
            # environment clusters (EAPOD) crash fitpod of LAMMPS 22 Jul 2025 (signal 11,
            # also on 40 frames), so one cluster: a linear POD
            "number_of_environment_clusters 1",
            "onebody 1",
            f"twobody_number_radial_basis_functions {s.twobody_radial}",
            f"threebody_number_radial_basis_functions {s.threebody_radial}",
            f"threebody_angular_degree {s.threebody_angular}",
            f"fourbody_number_radial_basis_functions {s.fourbody_radial}",
            f"fourbody_angular_degree {s.fourbody_angular}",
            "",
        ]
    )


def _data_text(s: PODSettings) -> str:
    return "\n".join(
        [
            "file_format extxyz",
            "file_extension xyz",
            'path_to_training_data_set "train"',
            # fitpod reads test-set sizes even with its test analysis off; with no test path
            # they are uninitialised (allocations of negative size), so name the train set
            'path_to_test_data_set "train"',
            "fraction_training_data_set 1.0",
            "fraction_test_data_set 1.0",
            "randomize_test_data_set 0",
            "randomize_training_data_set 0",
            # held-out errors are computed by atomflow itself, with pair_style pod
            "error_analysis_for_training_data_set 0",
            "error_analysis_for_test_data_set 0",
            f"fitting_weight_energy {s.weight_energy}",
            f"fitting_weight_force {s.weight_force}",
            f"fitting_regularization_parameter {s.regularization:.3e}",
            "basename_for_output_files pod",
            "precision_for_pod_coefficients 14",
            "",
        ]
    )


def write_potential_toml(
    folder: Path,
    name: str,
    elements: Sequence[str],
    settings: PODSettings,
    *,
    with_pod: bool = True,
    extra: str = "",
) -> Path:
    """A registry entry for ``hybrid/overlay pod zbl`` (or the ZBL baseline alone)."""
    els = list(elements)
    zbl = [
        f"{i + 1} {j + 1} zbl {atomic_numbers[a]} {atomic_numbers[b]}"
        for i, a in enumerate(els)
        for j, b in enumerate(els)
        if j >= i
    ]
    zbl_style = f"zbl {settings.zbl_inner} {settings.zbl_outer}"
    if with_pod:
        style = f"hybrid/overlay pod {zbl_style}"
        coeff = ["* * pod {dir}/param.pod {dir}/coefficients.pod {elements}", *zbl]
        files = ["param.pod", "coefficients.pod"]
    else:
        style = zbl_style
        coeff = [c.replace(" zbl ", " ") for c in zbl]
        files = []
    lines = [
        f'name = "{name}"',
        f"elements = {els!r}".replace("'", '"'),
        f'pair_style = "{style}"',
        "pair_coeff = [" + ", ".join(f'"{c}"' for c in coeff) + "]",
        f"files = {files!r}".replace("'", '"'),
        "timestep_fs = 1.0",
        'citation = "fitted by atomflow distill (POD: Nguyen and Rohskopf, J. Comput. Phys. '
        '480, 112030 (2023); ZBL: Ziegler, Biersack, Littmark (1985))"',
        extra,
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "potential.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _minus_baseline(frames: Sequence[Atoms], baseline: Potential) -> list[Atoms]:
    base = evaluate_potential(baseline, frames)
    out = []
    for f, b in zip(frames, base, strict=True):
        out.append(
            labelled_copy(
                f,
                f.get_potential_energy() - b.get_potential_energy(),
                f.get_forces() - b.get_forces(),
                None,
            )
        )
    return out


_FITPOD = """
import sys
from atomflow.md.session import open_lammps
lmp = open_lammps(log="log.fitpod")
try:
    lmp.command("fitpod param.pod data.pod")
except Exception as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
"""


def _run_fitpod(folder: Path, attempts: int = 3) -> None:
    """``fitpod`` in a fresh process, in ``folder`` (it reads and writes relative paths).

    LAMMPS 2025.7.22's fitpod reads one size field before setting it; in a process whose heap
    already held other LAMMPS runs that garbage asks for a negative allocation. A fresh
    interpreter starts on zeroed pages; a failed attempt is retried.
    """
    import subprocess
    import sys

    err = ""
    for _ in range(attempts):
        done = subprocess.run(
            [sys.executable, "-c", _FITPOD], cwd=folder, capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        err = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        if done.returncode < 0:  # killed by a signal: a crash inside LAMMPS
            err = f"{err}; the process died of signal {-done.returncode}"
        if "Failed to allocate" not in err:
            break
    raise RuntimeError(f"fitpod failed in {folder}: {err} (log: {folder / 'log.fitpod'})")


def coefficient_count(text: str) -> int:
    """The number of POD coefficients from a coefficients file's header ("model_coefficients:
    N ..." in current LAMMPS, "POD_coefficients: N" in older), or -1 when there is none."""
    match = re.search(r"(?:POD|model)_coefficients:\s*(\d+)", text)
    return int(match.group(1)) if match else -1


@dataclass(frozen=True)
class PODFit:
    folder: Path
    n_descriptors: int
    n_train: int

    def potential(self) -> Potential:
        return load_potential_file(self.folder / "potential.toml")

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def fit_pod(
    train: Sequence[Atoms],
    elements: Sequence[str],
    settings: PODSettings,
    folder: Path,
    name: str = "fit",
) -> PODFit:
    """Run ``fitpod`` on ``train`` minus the ZBL baseline; write a loadable potential folder."""
    if not train:
        raise InputError("fit_pod: no training configurations")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base_dir = folder / "baseline"
    write_potential_toml(base_dir, f"{name}-zbl", elements, settings, with_pod=False)
    baseline = load_potential_file(base_dir / "potential.toml")
    delta = _minus_baseline(train, baseline)
    write_frames(delta, folder / "train" / "train.xyz")
    (folder / "param.pod").write_text(_param_text(elements, settings))
    (folder / "data.pod").write_text(_data_text(settings))
    _run_fitpod(folder)
    produced = folder / "pod_coefficients.pod"
    if not produced.is_file():
        raise RuntimeError(f"fitpod wrote no coefficients; see {folder / 'log.fitpod'}")
    produced.replace(folder / "coefficients.pod")
    n_desc = coefficient_count((folder / "coefficients.pod").read_text())
    write_potential_toml(folder, name, elements, settings)
    tomllib.loads((folder / "potential.toml").read_text())  # fail here, not later
    return PODFit(folder=folder, n_descriptors=n_desc, n_train=len(train))
