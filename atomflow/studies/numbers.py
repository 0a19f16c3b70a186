"""Small number helpers shared by the study reports: averaging, deviations, verdicts, text."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def mean_err(values: list[float], errors: list[float]) -> tuple[float, float]:
    """Mean over configurations; error: the larger of their scatter and their own errors."""
    v = np.asarray(values, float)
    e = np.asarray(errors, float)
    if len(v) == 1:
        return float(v[0]), float(e[0])
    within = float(np.sqrt(np.nansum(e**2)) / len(v))
    between = float(np.std(v, ddof=1) / np.sqrt(len(v)))
    return float(v.mean()), max(within, between)


def _marked_invalid(run: dict) -> bool:
    return bool(run.get("invalid"))


@dataclass(frozen=True)
class IntactRuns:
    """The configurations behind one table row, split by the host-collapse check.

    A configuration whose host collapsed is another material: a row averages ``intact``
    only, and a row with no intact configuration has no numbers at all (``invalid``)."""

    intact: list[dict]
    collapsed: list[dict]

    @property
    def invalid(self) -> bool:
        return not self.intact

    def fields(self, note_key: str = "note") -> dict:
        """``invalid``, ``n_collapsed`` and the collapsed runs' notes, for the row."""
        notes = sorted({str(r.get(note_key) or "") for r in self.collapsed} - {""})
        return {
            "invalid": self.invalid,
            "n_collapsed": len(self.collapsed),
            "collapse_note": "; ".join(notes),
        }


def split_intact(
    runs: list[dict], collapsed: Callable[[dict], bool] = _marked_invalid
) -> IntactRuns:
    """Split ``runs`` into intact and collapsed (by default: marked ``invalid``)."""
    if not runs:
        raise ValueError("split_intact: no runs to split; a table row needs at least one")
    return IntactRuns(
        intact=[r for r in runs if not collapsed(r)], collapsed=[r for r in runs if collapsed(r)]
    )


def deviation_pct(ours: float | None, ref: float) -> float | None:
    """100 (ours − ref) / ref, or None when there is no value of ours."""
    return None if ours is None else 100.0 * (ours - ref) / ref


def verdict(diff: float | None, err: float | None, expected_sign: int) -> str:
    """ "yes"/"no" when ``diff`` has (not) the expected sign beyond 2σ, else "not resolved"."""
    if diff is None or err is None or not math.isfinite(diff):
        return "not computed"
    if abs(diff) <= 2 * err:
        return "not resolved"
    return "yes" if np.sign(diff) == expected_sign else "no"


def fmt(value: float | None, err: float | None = None, digits: int = 4) -> str:
    """``value ± err`` for tables; "n/a" for a missing or non-finite value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if err is None or not math.isfinite(err):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {err:.2g}"


def fmt_d(
    value: float | None,
    err: float | None,
    converged: bool,
    digits: int = 3,
    invalid: bool = False,
) -> str:
    """A diffusivity for tables. An unconverged fit whose slope is within 2σ of zero (or
    below it) is shown as its 2σ upper bound: a negative D is a noisy slope, not a value.
    A run whose host collapsed (``invalid``) shows no number at all."""
    if invalid:
        return "invalid (host collapsed)"
    if converged or value is None or err is None or not math.isfinite(value):
        return fmt(value, err, digits)
    if not math.isfinite(err) or value - 2 * err > 0:
        return fmt(value, err, digits)
    return f"≤ {max(value, 0.0) + 2 * err:.2g} (not resolved)"


def findings_table(findings: list[dict], verdict_key: str, heading: str, empty: str) -> list[str]:
    """Markdown rows of a findings table (finding, paper, ours, verdict); ``empty`` fills
    the table when nothing could be compared."""
    out = ["", heading, "", f"| finding | paper | ours | {verdict_key} |", "|---|---|---|---|"]
    out += [f"| {f['finding']} | {f['paper']} | {f['ours']} | {f[verdict_key]} |" for f in findings]
    if not findings:
        out.append(f"| {empty} | | | not computed |")
    return out
