"""The shared rules of the study reports: which runs count (split_intact)."""

import pytest

from atomflow.studies.numbers import split_intact


def test_split_intact_keeps_the_intact_runs_and_names_the_collapsed():
    runs = [{"D": 1.0}, {"D": 9.0, "invalid": True, "note": "W-W"}, {"D": 2.0}]
    split = split_intact(runs)
    assert [r["D"] for r in split.intact] == [1.0, 2.0] and not split.invalid
    assert split.fields() == {"invalid": False, "n_collapsed": 1, "collapse_note": "W-W"}
    every = split_intact(runs[1:2])
    assert every.invalid and every.intact == []
    by_integrity = split_intact(
        [{"integrity": {"ok": False}, "why": "Bi-Sn"}], lambda r: not r["integrity"]["ok"]
    )
    assert by_integrity.fields("why")["collapse_note"] == "Bi-Sn"
    with pytest.raises(ValueError, match="no runs"):
        split_intact([])
