"""N-substituted Li2ZrCl6, Li(2+2x)ZrCl(6-x)N(x): lattice expansion and Li transport against x.

Graph, for each composition x and disorder configuration k: build the ordered supercell →
minimise positions (fails loudly on an energy hole of the potential) → NPT at 300 K (a, c,
V per P-3m1 cell) → rebuild the same configuration at the NPT lattice and minimise → NVT at
each temperature → tracer D(Li), Einstein–Helfand σ and Haven ratio. One report task
gathers them: lattice against x, Arrhenius Ea and σ(300 K) per x, beside the paper (Deng et
al., EES Batteries 2025) with deviations and the trends it does and does not reproduce.
Optional: QHA at x = 0 beside the NPT lattice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PositiveFloat, field_validator, model_validator
from pymatgen.core import Structure

from atomflow.graph import Workflow, task
from atomflow.structures.li2zrcl6 import build_li2zrcl6, choose_supercell
from atomflow.studies.md_tasks import (
    ion_transport,
    npt_lattice,
    nvt_md,
    potential_input,
    relax_positions,
)
from atomflow.studies.stages import NPTStage, NVTStage, Strict, md_protocol

X_STEP = 0.05
FORMAL_CHARGES = {"Li": 1.0, "Zr": 4.0, "Cl": -1.0, "N": -3.0}


class LZCStructure(Strict):
    """How each composition's cell is built (see ``atomflow build li2zrcl6``)."""

    supercell: tuple[int, int, int] | None = Field(
        None, description="of the P-3m1 cell; default: the smallest near-isotropic one per x"
    )
    configs: int = Field(1, ge=1, description="disorder configurations per composition")
    li_placement: str = "ewald"
    n_min_distance_A: float = Field(
        0.0,
        ge=0,
        description="keep every two N at least this far apart (0: independent placement)",
    )


class LZCPreset(Strict):
    """Settings of one preset of ``workflows/li2zrcl6_n.toml``."""

    description: str = ""
    expected_minutes: float = Field(30, gt=0)
    potential: str = "li2zrcl6n-pod"
    timestep_fs: PositiveFloat = 1.0
    seed: int = Field(2025, gt=0)
    restart_every: int = Field(2000, gt=0)
    compositions: list[float] = Field(min_length=1, description="x values, multiples of 0.05")
    diffusion_x: list[float] | None = Field(
        None, description="compositions that also get NVT transport (default: all)"
    )
    charges: dict[str, float] = Field(default_factory=lambda: dict(FORMAL_CHARGES))
    qha: bool = Field(False, description="phonons + QHA at x = 0, compared with NPT")
    structure: LZCStructure = LZCStructure()
    npt: NPTStage = NPTStage()
    nvt: NVTStage

    @field_validator("compositions", "diffusion_x")
    @classmethod
    def _on_grid(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        for x in v:
            if not 0 <= x <= 0.25 + 1e-9 or abs(x / X_STEP - round(x / X_STEP)) > 1e-6:
                raise ValueError(f"x = {x} is not one of 0, 0.05, …, 0.25 (the paper's series)")
        if len(set(v)) != len(v):
            raise ValueError(f"compositions must be distinct, got {v}")
        return [round(x, 4) for x in v]

    @model_validator(mode="after")
    def _subset(self) -> LZCPreset:
        extra = sorted(set(self.diffusion_x or []) - set(self.compositions))
        if extra:
            raise ValueError(f"diffusion_x {extra} are not in compositions {self.compositions}")
        return self

    def transport_x(self) -> list[float]:
        return self.compositions if self.diffusion_x is None else self.diffusion_x


@task(version="1")
def lzc_structure(
    x: float,
    supercell: list[int],
    seed: int,
    li_placement: str = "ewald",
    a: float | None = None,
    c: float | None = None,
    n_min_distance_A: float = 0.0,
) -> Structure:
    """One ordered Li(2+2x)ZrCl(6-x)N(x) supercell (optionally at given a, c)."""
    result = build_li2zrcl6(
        x,
        supercell=tuple(supercell),
        seed=seed,
        li_placement=li_placement,
        a=a,
        c=c,
        n_min_distance_A=n_min_distance_A,
    )
    return result.structure


def _label(x: float, k: int, n: int) -> str:
    return f"x{x:g}" + (f"-c{k}" if n > 1 else "")


def build_workflow(
    preset: LZCPreset, name: str = "li2zrcl6_n", reference: dict[str, Any] | None = None
) -> Workflow:
    """The Li2ZrCl6–N study as a workflow graph (also its Python API)."""
    from atomflow.phonons.tasks import qha

    wf = Workflow(name=name)
    pot = potential_input(preset.potential)
    n_cfg = preset.structure.configs
    lattices, transports = [], []
    npt_x0 = None
    for i, x in enumerate(preset.compositions):
        sc = list(preset.structure.supercell or choose_supercell(x))
        for k in range(n_cfg):
            tag = _label(x, k, n_cfg)
            seed = preset.seed + 100 * i + k
            st = preset.structure
            built = wf.add(
                lzc_structure(x, sc, seed, st.li_placement, n_min_distance_A=st.n_min_distance_A),
                f"structure-{tag}",
            )
            npt_p = md_protocol(
                preset.npt,
                preset.npt.temperature_K,
                timestep_fs=preset.timestep_fs,
                restart_every=preset.restart_every,
                seed=seed,
            )
            start = wf.add(relax_positions(built.output, pot), f"relax-{tag}")
            npt = wf.add(npt_lattice(start.output, pot, npt_p, sc, ["Li"]), f"npt-{tag}")
            lattices.append({"x": x, "config": k, "npt": npt.output})
            if x == 0 and k == 0:
                npt_x0 = npt.output
            if x not in preset.transport_x():
                continue
            lat = npt["lattice"]
            nvt_cell = wf.add(
                lzc_structure(
                    x, sc, seed, st.li_placement, lat["a"], lat["c"], st.n_min_distance_A
                ),
                f"structure-{tag}-npt-cell",
            )
            nvt_start = wf.add(relax_positions(nvt_cell.output, pot), f"relax-{tag}-npt-cell")
            for j, T in enumerate(preset.nvt.temperatures_K):
                p = md_protocol(
                    preset.nvt,
                    T,
                    timestep_fs=preset.timestep_fs,
                    restart_every=preset.restart_every,
                    seed=seed + 7 * (j + 1),
                )
                md = wf.add(nvt_md(nvt_start.output, pot, p), f"nvt-{tag}-{T:g}K")
                tr = wf.add(
                    ion_transport(md.output, "Li", preset.charges), f"transport-{tag}-{T:g}K"
                )
                transports.append({"x": x, "config": k, "result": tr.output})
    qha_out = None
    if preset.qha and npt_x0 is not None:
        unit = wf.add(lzc_structure(0.0, [1, 1, 1], preset.seed), "structure-unit-x0")
        qha_out = wf.add(qha(unit.output, pot, t_max_K=900.0), "qha-x0").output
    wf.add(
        lzc_report(
            [r["x"] for r in lattices],
            [r["npt"] for r in lattices],
            [r["x"] for r in transports],
            [r["result"] for r in transports],
            reference or {},
            preset.model_dump(mode="json"),
            qha_out,
            npt_x0,
        ),
        "report",
    )
    return wf


@task(version="1")
def lzc_report(
    lattice_x: list[float],
    npts: list[dict],
    transport_x: list[float],
    transports: list[dict],
    reference: dict,
    settings: dict,
    qha: dict | None = None,
    npt_x0: dict | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """report.json / report.md / plots of the Li2ZrCl6–N study."""
    from atomflow.studies.lzc_report import write_lzc_report

    return write_lzc_report(
        workdir,
        lattice_x=lattice_x,
        npts=npts,
        transport_x=transport_x,
        transports=transports,
        reference=reference,
        settings=settings,
        qha=qha,
        npt_x0=npt_x0,
    )
