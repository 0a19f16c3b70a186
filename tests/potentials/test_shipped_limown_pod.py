"""The shipped Li-Mo-W-N POD (distilled from CHGNet, with a fitted repulsive core): it loads
with its provenance, its report's verdicts follow its numbers, its gates held on at least
400 atoms, and a short hot NVT of an interface model with Li holds."""

from shipped_pod import check_registry_entry, hot_md_distances

from atomflow.structures import build_system

NAME = "limown-pod"


def test_registry_entry_carries_provenance_core_and_report():
    report = check_registry_entry(NAME, ("Li", "Mo", "W", "N"), 1000)
    gates = {g["parent"] for g in report["stable_nvt"]}
    assert gates == {"Mo2N+Li", "WN+Li", "interface+Li", "study interface+Li"}
    # every gate host held (fit 3's WN+Li collapsed in the study, not in its gate)
    assert all(g["ok"] and g["host_intact"] for g in report["stable_nvt"])
    # the validation's NPT check: both bulks near CHGNet's volume at 300 K (fit 4: Mo2N
    # +2.1 %, WN -0.4 %), not drifting
    for g in report["stable_npt"]:
        assert g["ok"] and abs(g["deviation_pct"]) < 2.5 and abs(g["drift_pct"]) < 1


def test_an_interface_with_li_holds_in_hot_md(tmp_path):
    cell = build_system(
        "mo2n-wn", n_li=2, inplane_repeat=[1, 1], film_thickness=2, substrate_thickness=2, seed=1
    )[0].structure
    _, r = hot_md_distances(NAME, cell, tmp_path)
    assert r.min() > 1.2  # no pair collapsed
