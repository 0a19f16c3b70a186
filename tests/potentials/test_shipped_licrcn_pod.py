"""The shipped Li-Cr-C-N POD (distilled from CHGNet, with a fitted repulsive core): it loads
with its provenance, its report's verdicts follow its numbers, its gates held on at least
400 atoms, and a short hot NVT of a Cr2(NCN)3/CrN interface with Li keeps its carbodiimide
units whole."""

import numpy as np
from shipped_pod import check_registry_entry, hot_md_distances

from atomflow.structures import build_system

NAME = "licrcn-pod"


def test_registry_entry_carries_provenance_core_and_report():
    report = check_registry_entry(NAME, ("Li", "Cr", "C", "N"), 1000)
    gates = {g["parent"]: g for g in report["stable_nvt"]}
    assert set(gates) == {"Cr2(NCN)3+Li", "CrN+Li", "interface+Li"}
    # the only pair held to a floor of its own is carbodiimide C=N (1.23 Å in the crystal)
    for g in gates.values():
        assert set(g.get("pair_floors_A", {})) <= {"C-N"}
        for pair, d in g.get("closest_by_pair_A", {}).items():
            assert d > g.get("pair_floors_A", {}).get(pair, 1.2)


def test_cr2ncn3_keeps_the_labellers_volume_at_constant_pressure():
    """The validation's NPT check (300 K, 1 bar, 5 ps on >= 400 atoms) passes both bulks.
    Fit 3 failed it on Cr2(NCN)3 (-6.7 % and still sliding into a false dense minimum); the
    NPT probes of rounds 7-9 removed that minimum and the long NVT probes of rounds 10-12
    kept the fit whole at 1000 K."""
    report = check_registry_entry(NAME, ("Li", "Cr", "C", "N"), 1000)
    npt = {g["parent"]: g for g in report["stable_npt"]}
    assert set(npt) == {"Cr2(NCN)3", "CrN"} and all(g["atoms"] >= 400 for g in npt.values())
    for g in npt.values():
        assert g["ok"] and abs(g["deviation_pct"]) < 5 and abs(g["drift_pct"]) < 2.5
    assert report["acceptance"]["npt_volume_near_labeller"]
    rounds = report["active_learning"]
    assert len(rounds) == 12
    long = [p for r in rounds[9:] for p in r["probes"] if p.get("long")]
    assert len(long) == 6 and all(p["steps_done"] == 10000 for p in long[2:])  # fits 10, 11


def test_an_interface_with_li_holds_in_hot_md(tmp_path):
    cell = build_system("crncn-crn", n_li=2, substrate_thickness=1, seed=1)[0].structure
    sym, r = hot_md_distances(NAME, cell, tmp_path)
    carbon, nitrogen = sym == "C", sym == "N"
    # every C keeps its two N (N=C=N, 1.23 Å) and no C-C or N-N pair forms
    assert np.all(np.sort(r[carbon][:, nitrogen], axis=1)[:, :2] < 1.45)
    assert r[np.ix_(carbon, carbon)].min() > 2.0 and r[np.ix_(nitrogen, nitrogen)].min() > 2.0
    others = r.copy()  # every pair but C-N keeps the gate's 1.2 Å
    others[np.ix_(carbon, nitrogen)] = others[np.ix_(nitrogen, carbon)] = np.inf
    assert others.min() > 1.2
