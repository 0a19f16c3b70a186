"""Phonons room: finite-displacement harmonic phonons and the quasi-harmonic approximation.

* :mod:`atomflow.phonons.backend`: force backends (``LammpsBackend`` batched in one LAMMPS
  instance per supercell, ``AseBackend`` for any ASE calculator).
* :mod:`atomflow.phonons.harmonic`: ``harmonic_phonons`` -> ``HarmonicResult`` (bands, DOS,
  thermal properties, lowest frequency, imaginary-mode flag).
* :mod:`atomflow.phonons.qha`: ``run_qha`` -> ``QHAResult`` (V, a, c, B, expansion vs T,
  quantum and classical) and ``compare_with_npt`` for study reports.
* :mod:`atomflow.phonons.plots`, :mod:`atomflow.phonons.tasks` (workflow tasks).
"""
