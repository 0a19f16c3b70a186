"""Every catalogue entry loads, has its stated formula, and (when ordered) its space group."""

import pytest
from pymatgen.core import Composition

from atomflow.structures.checks import space_group
from atomflow.structures.reference import catalog, load_reference

pytestmark = [
    pytest.mark.filterwarnings("ignore:Issues encountered while parsing CIF"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

FIELDS = ("file", "formula", "space_group", "cell", "confidence", "source")


@pytest.mark.parametrize("name", sorted(catalog()))
def test_entry_loads_with_formula_and_provenance(name):
    entry = catalog()[name]
    for field in FIELDS:
        assert getattr(entry, field), f"{name} lacks {field}"
    s = load_reference(name)
    assert entry.path.is_file()
    assert abs(s.lattice.a - entry.cell["a"]) < 1e-3
    if "c" in entry.cell:
        assert abs(s.lattice.c - entry.cell["c"]) < 1e-3
    want = Composition(entry.formula).fractional_composition
    assert s.composition.fractional_composition.almost_equals(want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "name, number",
    [
        ("li3n_alpha", 191),
        ("k_bcc", 229),
        ("cr2ncn3", 167),
        ("crn_rocksalt", 225),
        ("wn_delta", 187),
    ],
)
def test_ordered_references_have_their_space_group(name, number):
    assert space_group(load_reference(name))[1] == number


def test_li3n_entry_unchanged():
    e = catalog()["li3n_alpha"]
    assert (e.file, e.confidence, e.cell) == ("Li3N_alpha_P6mmm.cif", "A", {"a": 3.652, "c": 3.866})
