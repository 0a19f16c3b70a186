"""Render one picture per builder into docs/structures/ (run from the repository root).

.venv/bin/python docs/structures/make_pictures.py
"""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from ase.data import atomic_numbers
from ase.data.colors import jmol_colors
from ase.visualize.plot import plot_atoms
from matplotlib.patches import Patch

from atomflow.structures import build_system
from atomflow.structures.io import to_ase

warnings.filterwarnings("ignore")
OUT = Path(__file__).parent
# jmol colours, except K and Sb (jmol violets, too close to Bi) in gold and red
COLOURS = {"K": "#e0a000", "Sb": "#c8324b"}


def colour(symbol: str):
    """Display colour of an element."""
    return COLOURS.get(symbol, tuple(jmol_colors[atomic_numbers[symbol]]))


SHOTS = [
    ("li2zrcl6", {"x": 0.15, "seed": 1}, ["0x,0y,0z", "-90x,0y,0z"], "Li2.3ZrCl5.85N0.15, 2x2x5"),
    ("bisnsb", {"seed": 0}, ["0x,0y,0z", "-90x,0y,0z"], "random A7 BiSnSb 1:1:1, 4x4x2"),
    (
        "bisnsb-slab",
        {"dislocation": "edge", "seed": 0},
        ["0x,0y,0z", "-90x,0y,0z"],
        "BiSnSb edge quadrupole + K slab",
    ),
    (
        "bisnsb-slab",
        {"dislocation": "screw", "seed": 0},
        ["0x,0y,0z", "-90x,0y,0z"],
        "BiSnSb screw quadrupole + K slab",
    ),
    (
        "bisnsb-slab",
        {"dislocation": "edge", "control": True, "seed": 0},
        ["0x,0y,0z", "-90x,0y,0z"],
        "BiSnSb control (no dislocation)",
    ),
    ("crncn-crn", {"n_li": 4}, ["-90x,0y,0z", "-90x,90y,0z"], "Cr2(NCN)3 on CrN(111) + 4 Li"),
    ("mo2n-wn", {"n_li": 6}, ["-90x,0y,0z", "-90x,90y,0z"], "γ-Mo2N on δ-WN(001) + 6 Li"),
    (
        "li3n",
        {"supercell": (3, 3, 3), "li_vacancies": 2},
        ["0x,0y,0z", "-90x,0y,0z"],
        "α-Li3N 3x3x3, 2 Li vacancies",
    ),
]


def main() -> None:
    names = []
    for system, params, rotations, title in SHOTS:
        res = build_system(system, **params)[0]
        atoms = to_ase(res.structure)
        fig, axes = plt.subplots(1, len(rotations), figsize=(5 * len(rotations), 5))
        for k, (ax, rot) in enumerate(zip(axes, rotations, strict=True)):
            shown = atoms
            label = f"view {rot}"
            if system == "bisnsb-slab" and k == 0:  # down the line, alloy only: cores visible
                shown = atoms[[a.symbol != "K" for a in atoms]]
                label = "down the line (z), K hidden"
            cols = [colour(a.symbol) for a in shown]
            plot_atoms(shown, ax, rotation=rot, radii=0.45, colors=cols, show_unit_cell=2)
            ax.set_title(label, fontsize=9)
            ax.axis("off")
        fig.suptitle(f"{title} ({len(atoms)} atoms)")
        elements = sorted(set(atoms.get_chemical_symbols()))
        handles = [Patch(facecolor=colour(e), edgecolor="k", label=e) for e in elements]
        fig.legend(handles=handles, loc="lower center", ncol=len(elements), frameon=False)
        name = system + ("-" + params["dislocation"] if "dislocation" in params else "")
        name += "-control" if params.get("control") else ""
        fig.savefig(OUT / f"{name}.png", dpi=70, bbox_inches="tight")
        plt.close(fig)
        names.append(name)
    print("\n".join(names))


if __name__ == "__main__":
    main()
