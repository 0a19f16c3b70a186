"""Structure builders: plain functions from parameters to a checked :class:`BuildResult`.

=============== ============================================== =================================
system          builder                                        what
=============== ============================================== =================================
``li2zrcl6``    :func:`li2zrcl6.build_li2zrcl6_ensemble`       Li(2+2x)ZrCl(6-x)N(x) supercells
``bisnsb``      :func:`bisnsb.build_bisnsb`                    random A7 BiSnSb bulk
``bisnsb-slab`` :func:`bisnsb.build_bisnsb_slab`               slab with edge/screw dislocations,
                                                               K on top, or the control
``crncn-crn``   :func:`crncn_crn.build_crncn_crn`              Cr2(NCN)3/CrN interface (+ Li)
``mo2n-wn``     :func:`mo2n_wn.build_mo2n_wn`                  γ-Mo2N/δ-WN interface (+ Li)
``mo2n``        :func:`mo2n_wn.build_mo2n`                     ordered γ-Mo2N bulk
``li3n``        :func:`li3n.build_li3n_result`                 α-Li3N supercell (+ Li vacancies)
=============== ============================================== =================================

Builders are imported on first use. This room imports nothing from graph, store, md,
analysis, studies or hpc.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import TYPE_CHECKING, Any

from atomflow.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from atomflow.structures.result import BuildResult

SYSTEMS = {
    "li2zrcl6": "atomflow.structures.li2zrcl6:build_li2zrcl6_ensemble",
    "bisnsb": "atomflow.structures.bisnsb:build_bisnsb",
    "bisnsb-slab": "atomflow.structures.bisnsb:build_bisnsb_slab",
    "crncn-crn": "atomflow.structures.crncn_crn:build_crncn_crn",
    "mo2n-wn": "atomflow.structures.mo2n_wn:build_mo2n_wn",
    "mo2n": "atomflow.structures.mo2n_wn:build_mo2n",
    "li3n": "atomflow.structures.li3n:build_li3n_result",
}


def builder(system: str) -> Callable[..., Any]:
    """The builder function of ``system`` (see :data:`SYSTEMS`)."""
    if system not in SYSTEMS:
        raise InputError(f"unknown system {system!r}; choose one of {', '.join(SYSTEMS)}")
    module, name = SYSTEMS[system].split(":")
    return getattr(import_module(module), name)


def parameters(system: str) -> list[str]:
    """Parameter names that ``system``'s builder accepts."""
    return list(inspect.signature(builder(system)).parameters)


def build_system(system: str, **params: Any) -> list[BuildResult]:
    """Build ``system`` with ``params``; a list (several only for li2zrcl6 with n_configs > 1)."""
    fn = builder(system)
    allowed = parameters(system)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"{system} does not take {', '.join(unknown)}; it takes: {', '.join(allowed)}"
        )
    out = fn(**params)
    return out if isinstance(out, list) else [out]


__all__ = ["SYSTEMS", "build_system", "builder", "parameters"]
