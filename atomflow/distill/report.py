"""report.json, report.md and plots for a distilled potential."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from atomflow.distill.explore import BOND_FRACTION, MIN_PAIR_A


def _plots(out: Path, work: Path, validation: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    parity = json.loads((work / "parity.json").read_text())
    fig, ax = plt.subplots(1, 2, figsize=(9, 4))
    ax[0].plot(parity["energy_ref"], parity["energy_fit"], ".", ms=4)
    ax[0].set(xlabel="labeller E (eV/atom)", ylabel="fit E (eV/atom)", title="energy, held out")
    ax[1].plot(parity["force_ref"], parity["force_fit"], ".", ms=1, alpha=0.4)
    ax[1].set(xlabel="labeller F (eV/Å)", ylabel="fit F (eV/Å)", title="forces, held out")
    for a in ax:
        lo, hi = a.get_xlim()
        a.plot([lo, hi], [lo, hi], "k-", lw=0.6)
    fig.tight_layout()
    fig.savefig(out / "parity.png", dpi=110)
    plt.close(fig)
    made.append("parity.png")
    dos = list(work.glob("phonon_dos.json"))
    if dos:
        d = json.loads(dos[0].read_text())
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for key, style in (("labeller", "k-"), ("ours", "r--")):
            ax.plot(d[key][0], d[key][1], style, label=key, lw=1)
        ax.set(xlabel="frequency (THz)", ylabel="DOS (states/THz)", title="phonon DOS")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "phonon_dos.png", dpi=110)
        plt.close(fig)
        made.append("phonon_dos.png")
    traces = sorted(Path(validation["gate_workdir"]).glob("gate_*_temperature.json"))
    if traces:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for t, g in zip(traces, validation["stable_nvt"], strict=False):
            temps = json.loads(t.read_text())
            ps = np.linspace(0, g["ps"], len(temps))
            ax.plot(ps, temps, lw=0.8, label=f"{g['parent']} ({g['atoms']} atoms)")
            ax.axhline(g["temperature_K"], color="k", lw=0.5)
        ax.set(xlabel="time (ps)", ylabel="T (K)", title="stability gate, NVT")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "stability.png", dpi=110)
        plt.close(fig)
        made.append("stability.png")
    npt = validation.get("npt_traces") or {}
    if npt:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for g in validation["stable_npt"]:
            trace = npt.get(g["parent"]) or []
            ps = np.linspace(0, g["ps"], len(trace))
            (line,) = ax.plot(ps, trace, lw=0.8, label=f"{g['parent']} ({g['atoms']} atoms)")
            if g["labeller_volume_A3_atom"]:
                ax.axhline(g["labeller_volume_A3_atom"], color=line.get_color(), lw=0.6, ls=":")
        ax.set(
            xlabel="time (ps)",
            ylabel="V (Å³/atom)",
            title="NPT check (dotted: labeller's relaxed volume)",
        )
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "npt_volume.png", dpi=110)
        plt.close(fig)
        made.append("npt_volume.png")
    lat = validation["lattice"]
    if lat:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(lat)
        keys = ["a", "b", "c", "volume"]
        for i, k in enumerate(keys):
            ax.bar(
                np.arange(len(names)) + 0.2 * i,
                [lat[n]["deviation_pct"][k] for n in names],
                width=0.2,
                label=k,
            )
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(np.arange(len(names)) + 0.3, names, fontsize=7)
        ax.set(ylabel="fit vs labeller (%)", title="relaxed lattice")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "lattice.png", dpi=110)
        plt.close(fig)
        made.append("lattice.png")
    return made


def acceptance(summary: dict) -> dict[str, bool]:
    """The issue's acceptance criteria, checked on a report: errors without blow-up frames,
    and without frames where the repulsive core acts when the fit has one."""
    errors = (
        summary.get("heldout_outside_core") or summary.get("heldout_excluding_blowups") or summary
    )
    lattice = summary["lattice"].values()
    sr = summary.get("short_range") or {}
    verdicts = {
        "force_rmse_le_0.10_eV_A": errors["force_rmse_eV_A"] <= 0.10,
        "energy_rmse_le_3_meV_atom": errors["energy_rmse_meV_atom"] <= 3.0,
        "stable_nvt_all": all(g["ok"] for g in summary["stable_nvt"]),
        "volume_within_1pct_of_labeller": all(
            abs(v["deviation_pct"]["volume"]) <= 1 for v in lattice
        ),
        "lengths_within_1.5pct_of_labeller": all(
            abs(v["deviation_pct"][k]) <= 1.5 for v in lattice for k in ("a", "b", "c")
        ),
        "within_3pct_of_experiment": all(
            abs(x) <= 3 for v in lattice for x in v.get("vs_experiment_pct", {}).values()
        ),
        "speedup_ge_30": summary["speedup_vs_labeller"] >= 30,
    }
    if summary.get("stable_npt"):  # reports made before the NPT check have none
        verdicts["npt_volume_near_labeller"] = all(g["ok"] for g in summary["stable_npt"])
    if sr:  # reports made before the short-range checks existed have no such entry
        verdicts["short_range_repulsive"] = all(
            scan["ok"] for p in sr.values() for scan in p["pairs"].values()
        )
        verdicts["relax_probe_no_collapse"] = all(p["relax_probe"]["ok"] for p in sr.values())
    return verdicts


def gate_lines(stable_nvt: list[dict]) -> list[str]:
    """The stability gate's table, each collapsed host with its reason, and what "host
    intact" means."""
    lines = [
        "",
        "## Stability gate (NVT)",
        "",
        "| phase | T (K) | ps | atoms | closest pair (Å) | crash | T mean (K) | drift (K) | "
        "host intact | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in stable_nvt:
        intact = {True: "yes", False: "NO", None: "n/a"}[g.get("host_intact")]
        lines.append(
            f"| {g['parent']} | {g['temperature_K']:g} | {g['ps']:g} | {g['atoms']} | "
            f"{g['closest_pair_A']:.3f} | {g['lost_atoms_or_crash']} | "
            f"{g['mean_temperature_K']} | {g['temperature_drift_K']} | {intact} | {g['ok']} |"
        )
    lines += [
        f"- {g['parent']}: {g['host_collapse']}" for g in stable_nvt if g.get("host_collapse")
    ]
    lines += [
        "",
        "Host intact: atomflow's host-collapse check (`atomflow.analysis.integrity`) on the "
        "gate trajectory after its first fifth (equilibration), mobile species left out: no "
        "host pair closes below 0.7 of its typical contact and no median contact shrinks by "
        "more than 10 % in 2 % or more of the frames.",
    ]
    return lines


def gate_floor_lines(stable_nvt: list[dict]) -> list[str]:
    """One line per gate cell whose short bonds were held to a fraction of their length
    rather than to ``MIN_PAIR_A`` (:func:`atomflow.distill.explore.pair_floors`)."""
    lines = []
    for g in stable_nvt:
        floors = g.get("pair_floors_A") or {}
        closest = g.get("closest_by_pair_A") or {}
        if floors:
            held = ", ".join(
                f"{pair} ≥ {f:.3f} Å (closest {closest.get(pair, float('nan')):.3f})"
                for pair, f in floors.items()
            )
            lines += [
                "",
                f"{g['parent']}: bonds too short for the {MIN_PAIR_A} Å rule are held to "
                f"{BOND_FRACTION} of their length in the parent instead: {held}.",
            ]
    return lines


def npt_lines(stable_npt: list[dict]) -> list[str]:
    """The NPT check as a markdown table (nothing for reports made before it existed)."""
    if not stable_npt:
        return []
    lines = [
        "",
        "## Volume at constant pressure (NPT, 1 bar)",
        "",
        "A fit can hold a false dense minimum that relaxing from the reference cell never "
        "reaches; NPT finds it. Mean volume over the second half against the labeller's relaxed "
        "(0 K) volume, and how far it still drifts over that half (last quarter against "
        "first).",
        "",
        "| phase | T (K) | ps | atoms | V fit MD (Å³/atom) | V labeller 0 K | deviation (%) "
        "| drift in 2nd half (%) | tolerance (%) | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in stable_npt:
        ref = g["labeller_volume_A3_atom"]
        lines.append(
            f"| {g['parent']} | {g['temperature_K']:g} | {g['ps']:g} | {g['atoms']} | "
            f"{g['volume_A3_atom']:.3f} ± {g['volume_std_A3_atom']:.3f} | "
            f"{'' if ref is None else f'{ref:.3f}'} | {g['deviation_pct']:+.2f} | "
            f"{g.get('drift_pct', float('nan')):+.2f} | "
            f"{g['tolerance_pct']:g} (drift {g['tolerance_pct'] / 2:g}) | "
            f"{g['ok']}{' (crashed)' if g['crashed'] else ''} |"
        )
    return lines


def _short_range_lines(short_range: dict) -> list[str]:
    """Pair-closing scans (fit vs labeller) and the relaxation probe, per parent."""
    if not short_range:
        return []
    lines = [
        "## Short-range safety",
        "",
        "Each pair's shortest bond closed to 0.35 … 1.0 of its length (the rest of the crystal "
        "fixed); ΔE (eV) relative to the bond, fit / labeller. A safe fit rises at every step "
        "inside 0.75 r0.",
        "",
        "| parent | pair | r0 (Å) | ΔE at 0.35 r0 | ΔE at 0.55 r0 | ΔE at 0.75 r0 | repulsive |",
        "|---|---|---|---|---|---|---|",
    ]
    for parent, data in short_range.items():
        for pair, s in data["pairs"].items():
            cells = [f"{s['dE_eV'][k]:.3g} / {s['labeller_dE_eV'][k]:.3g}" for k in (0, 2, 4)]
            lines.append(
                f"| {parent} | {pair} | {s['r0_A']:.2f} | {' | '.join(cells)} | "
                f"{'yes' if s['ok'] else 'NO'} |"
            )
    lines += ["", "| parent | relaxation probe: worst pair | closest / parent's | no collapse |"]
    lines += ["|---|---|---|---|"]
    for parent, data in short_range.items():
        rp = data["relax_probe"]
        lines.append(
            f"| {parent} | {rp['worst_pair']} | {rp['worst_ratio']:.2f} | "
            f"{'yes' if rp['ok'] else 'NO'} |"
        )
    return [*lines, ""]


def _core_lines(core: dict) -> list[str]:
    """The fitted repulsive core, per pair (see atomflow.distill.core)."""
    if not core:
        return []
    lines = [
        "## Repulsive core",
        "",
        "A pair term, zero above the closest approach of each pair in training (r_on), fitted "
        "on closing paths in the parents so that fit + core rises at every step from r_on "
        "to the floor, 0.35 r_on by default (core.table, core.json).",
        "",
        "| pair | r_on (Å) | paths | rise fitted to the fit's falls (eV) | core at floor (eV) |",
        "|---|---|---|---|---|",
    ]
    for pair, c in core.items():
        lines.append(
            f"| {pair} | {c['r_on_A']:.2f} | {c['paths']} | {sum(c['rises_eV']):.3g} | "
            f"{c['wall_at_floor_eV']:.3g} |"
        )
    return [*lines, ""]


def write_report(
    out: Path,
    work: Path,
    fit: dict,
    validation: dict,
    labels: list[dict],
    probes: list[dict],
    header: dict,
    preset: dict,
    splits: list[dict] = (),
) -> Path:
    """Write report.json and report.md (with plots) into ``out``; return report.md."""
    experiment = header.get("experiment", {})
    lattice = {}
    for name, v in validation["lattice"].items():
        entry = {"ours": v["ours"], "labeller": v["labeller"], "deviation_pct": v["deviation_pct"]}
        if name in experiment:
            exp = experiment[name]
            entry["experiment"] = exp
            entry["vs_experiment_pct"] = {
                k: 100 * (v["ours"][k] / exp[k] - 1) for k in exp if k in v["ours"]
            }
        lattice[name] = entry
    lab0 = labels[0]
    summary = {
        "name": header["name"],
        "elements": header["elements"],
        "labeller": lab0["labeller"],
        "labeller_version": lab0["version"],
        "labeller_reason": header.get("labeller_reason", ""),
        "force_rmse_eV_A": validation["force_rmse_eV_A"],
        "energy_rmse_meV_atom": validation["energy_rmse_meV_atom"],
        "n_test": validation["n_test"],
        "heldout_excluding_blowups": validation.get("heldout_excluding_blowups"),
        "heldout_outside_core": validation.get("heldout_outside_core"),
        "n_train": fit["n_train"],
        "n_dropped_blowup_frames": sum(s.get("n_dropped", 0) for s in splits),
        "lattice": lattice,
        "min_phonon_THz": (validation["phonons"] or {}).get("min_phonon_THz"),
        "phonons": validation["phonons"],
        "stable_nvt": validation["stable_nvt"],
        "stable_npt": validation.get("stable_npt") or [],
        "short_range": validation.get("short_range") or {},
        "speedup_vs_labeller": validation["speed"]["speedup_vs_labeller"],
        "speed": validation["speed"],
        "active_learning": [
            {
                "round": r + 1,
                "selected": p["n"],
                "probes": [
                    {
                        k: q[k]
                        for k in (
                            "parent",
                            "temperature_K",
                            "crashed",
                            "closest_pair_A",
                            "flagged_frames",
                            "flagged_pairs",
                            "steps_done",
                        )
                    }
                    | {
                        k: q[k]
                        for k in ("ensemble", "volume_start_A3_atom", "volume_end_A3_atom", "long")
                        if k in q
                    }
                    for q in p["probes"]
                ],
            }
            for r, p in enumerate(probes)
        ],
        "training_pair_min_A": fit["pair_min_A"],
        "core": fit.get("core") or {},
        "data_sha256": fit["data_hash"],
        "preset": preset,
    }
    summary["acceptance"] = acceptance(summary)
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    plots = _plots(out, work, validation)
    lines = [
        f"# {header['name']}: validation report",
        "",
        header.get("description", ""),
        "",
        f"Labeller: **{lab0['labeller']}** ({lab0['version']}). "
        + header.get("labeller_reason", ""),
        f"Training configurations: {fit['n_train']}; held-out test: {validation['n_test']}; "
        f"dropped as blow-ups (a labelled force over {preset.get('max_force_eV_A', 20):g} "
        f"eV/Å): {summary['n_dropped_blowup_frames']}.",
        "",
        "## Accuracy on held-out data",
        "",
        "| quantity | value | acceptance |",
        "|---|---|---|",
        f"| energy RMSE | {validation['energy_rmse_meV_atom']:.2f} meV/atom | ≤ 3 |",
        f"| force RMSE | {validation['force_rmse_eV_A']:.3f} eV/Å | ≤ 0.10 |",
        *(
            [
                f"| without {cap['n_excluded']} blow-up frame(s) (labelled |F| > "
                f"{cap['force_cap_eV_A']:g} eV/Å): energy, force | "
                f"{cap['energy_rmse_meV_atom']:.2f} meV/atom, {cap['force_rmse_eV_A']:.3f} eV/Å | |"
            ]
            if (cap := validation.get("heldout_excluding_blowups")) and cap["n_excluded"]
            else []
        ),
        *(
            [
                f"| outside the repulsive core ({oc['n_inside_core']} frame(s) with a pair "
                f"inside its onset left out, and blow-ups): energy, force (the acceptance "
                f"numbers) | {oc['energy_rmse_meV_atom']:.2f} meV/atom, "
                f"{oc['force_rmse_eV_A']:.3f} eV/Å | |"
            ]
            if (oc := validation.get("heldout_outside_core"))
            else []
        ),
        "",
        *_short_range_lines(summary["short_range"]),
        *_core_lines(summary["core"]),
        "## Lattice (relaxed, 0 K)",
        "",
        "| phase | quantity | fit | labeller | fit vs labeller (%) | experiment | fit vs exp (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in lattice.items():
        for k in ("a", "b", "c", "volume"):
            exp = v.get("experiment", {}).get(k)
            vs = v.get("vs_experiment_pct", {}).get(k)
            lines.append(
                f"| {name} | {k}{' (Å³/atom)' if k == 'volume' else ' (Å)'} | {v['ours'][k]:.4f} "
                f"| {v['labeller'][k]:.4f} | {v['deviation_pct'][k]:+.2f} | "
                f"{'' if exp is None else f'{exp:.4f}'} | {'' if vs is None else f'{vs:+.2f}'} |"
            )
    lines += gate_lines(validation["stable_nvt"])
    lines += gate_floor_lines(validation["stable_nvt"])
    lines += npt_lines(summary["stable_npt"])
    ph = validation["phonons"]
    if ph:
        lines += [
            "",
            "## Phonons",
            "",
            f"Lowest frequency: fit {ph['min_phonon_THz']:.3f} THz, labeller "
            f"{ph['labeller_min_phonon_THz']:.3f} THz (negative = imaginary).",
        ]
    sp = validation["speed"]
    lines += [
        "",
        "## Speed",
        "",
        f"Fit: {1e6 * sp['fit_s_per_atom_step']:.1f} µs/atom-step MD ({sp['atoms']} atoms, "
        f"one core); labeller: {1e6 * sp['labeller_s_per_atom_call']:.0f} µs/atom per "
        f"force call: **{sp['speedup_vs_labeller']:.0f}×**.",
        "",
        "## Active learning",
        "",
    ]
    for r in summary["active_learning"]:
        crashed = sum(q["crashed"] for q in r["probes"])
        flagged = sum(q["flagged_frames"] for q in r["probes"])
        drift = [
            f"{q['temperature_K']:g} K {q['volume_start_A3_atom']:.2f} → "
            f"{q['volume_end_A3_atom']:.2f} Å³/atom"
            for q in r["probes"]
            if q.get("ensemble") == "npt" and q.get("volume_end_A3_atom") is not None
        ]
        long = [
            f"{q['temperature_K']:g} K {q['steps_done']} steps "
            + ("crashed" if q["crashed"] else "held")
            for q in r["probes"]
            if q.get("long")
        ]
        lines.append(
            f"- round {r['round']}: {len(r['probes'])} probes, {crashed} crashed, "
            f"{flagged} frames below the training distances, {r['selected']} labelled"
            + (f"; NPT: {', '.join(drift)}" if drift else "")
            + (f"; long NVT: {', '.join(long)}" if long else "")
        )
    lines += ["", *[f"![{p}]({p})" for p in plots], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
