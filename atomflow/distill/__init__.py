"""Distil a slow labeller (a universal ML potential, DFT, any ASE calculator) into a fast
LAMMPS potential: seed configurations, labels, a POD fit on a repulsive baseline, active
learning against the stability gate, and a validation report.

This room sits above ``potentials`` and ``md`` (it runs MD to test its fits) and below
``cli``; the graph engine runs its tasks like any others.
"""
