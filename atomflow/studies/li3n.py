"""α-Li3N: lattice parameters from NPT and anisotropic Li diffusion from NVT (eSNAP).

Graph: build (perfect cell) → NPT at 300 K → build (vacancy cell at the NPT lattice) →
NVT at each temperature → tracer MSD and D (in-plane ``xy`` and along c ``z``) → report
with the Arrhenius fit set against experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PositiveFloat
from pymatgen.core import Structure

from atomflow.graph import Workflow, task
from atomflow.phonons.tasks import qha
from atomflow.structures.li3n import build_li3n
from atomflow.studies.md_tasks import npt_lattice, nvt_md, potential_input, tracer_diffusion
from atomflow.studies.report import write_transport_report
from atomflow.studies.stages import NPTStage, NVTStage, Strict, md_protocol


class Li3NStructure(Strict):
    supercell: tuple[int, int, int] = (3, 3, 3)
    li_vacancies: int = Field(1, ge=0, description="Li vacancies in the NVT cells")


class Li3NPreset(Strict):
    """Settings of one preset of ``workflows/li3n.toml``."""

    description: str = ""
    expected_minutes: float = Field(10, gt=0)
    potential: str = "li3n-esnap"
    timestep_fs: PositiveFloat = 1.0
    seed: int = Field(2024, gt=0)
    restart_every: int = Field(2000, gt=0)
    qha: bool = Field(True, description="also run phonons + QHA and compare with NPT")
    structure: Li3NStructure = Li3NStructure()
    npt: NPTStage = NPTStage()
    nvt: NVTStage


@task(version="1")
def li3n_structure(
    supercell: list[int],
    li_vacancies: int,
    seed: int,
    a: float | None = None,
    c: float | None = None,
) -> Structure:
    """An α-Li3N supercell (optionally at given a, c and with Li vacancies)."""
    return build_li3n(tuple(supercell), li_vacancies=li_vacancies, seed=seed, a=a, c=c)


def _protocol(stage: NPTStage | NVTStage, preset: Li3NPreset, temperature: float, seed: int):
    return md_protocol(
        stage,
        temperature,
        timestep_fs=preset.timestep_fs,
        restart_every=preset.restart_every,
        seed=seed,
    )


def build_workflow(
    preset: Li3NPreset, name: str = "li3n", reference: dict[str, Any] | None = None
) -> Workflow:
    """The Li3N study as a workflow graph (also the Python API for this study)."""
    wf = Workflow(name=name)
    pot = potential_input(preset.potential)
    sc = list(preset.structure.supercell)
    perfect = wf.add(li3n_structure(sc, 0, preset.seed), "structure-perfect")
    npt = wf.add(
        npt_lattice(
            perfect.output,
            pot,
            _protocol(preset.npt, preset, preset.npt.temperature_K, preset.seed),
            sc,
        ),
        f"npt-{preset.npt.temperature_K:g}K",
    )
    lattice = npt["lattice"]
    vac = wf.add(
        li3n_structure(sc, preset.structure.li_vacancies, preset.seed, lattice["a"], lattice["c"]),
        "structure-vacancy",
    )
    analyses = []
    for i, T in enumerate(preset.nvt.temperatures_K):
        md = wf.add(
            nvt_md(vac.output, pot, _protocol(preset.nvt, preset, T, preset.seed + i)),
            f"nvt-{T:g}K",
        )
        analyses.append(
            wf.add(tracer_diffusion(md.output, "Li", ["xy", "z", "xyz"]), f"diffusion-{T:g}K")
        )
    qha_out = None
    if preset.qha:
        unit = wf.add(li3n_structure([1, 1, 1], 0, preset.seed), "structure-unit")
        qha_out = wf.add(qha(unit.output, pot, t_max_K=900.0), "qha").output
    wf.add(
        li3n_report(
            npt.output,
            [a.output for a in analyses],
            reference or {},
            preset.model_dump(mode="json"),
            qha_out,
        ),
        "report",
    )
    return wf


@task(version="2")
def li3n_report(
    npt: dict,
    analyses: list[dict],
    reference: dict,
    settings: dict,
    qha: dict | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """report.json / report.md / plots for the Li3N study."""
    return write_transport_report(
        workdir,
        title="α-Li3N: lattice and Li diffusion (eSNAP)",
        lattice=npt["lattice"],
        lattice_T_K=npt["temperature_K"],
        analyses=analyses,
        species="Li",
        reference=reference,
        settings=settings,
        qha=qha,
    )
