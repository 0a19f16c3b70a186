"""Region-resolved diffusion and penetration profiles.

A region (slab along a cell axis, cylinder around a line, band of distance from a plane)
decides, frame by frame, which atoms are inside, using positions wrapped into that frame's
cell (the cylinder by the minimum image across the line). Membership is tracked over time:
the region MSD at lag m averages only (atom, origin) pairs where the atom stayed inside for
every frame from the origin to origin + m, so atoms that leave do not carry bulk motion in.

Penetration profiles: number density (atoms/Å³) of a species against depth along a cell
axis at chosen times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomflow.analysis.msd import DIRECTIONS, MSDResult, check_times, lag_grid
from atomflow.errors import InputError


def _wrapped(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    frac = positions @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


@dataclass(frozen=True)
class Slab:
    """lo ≤ coordinate < hi (Å) along axis 0/1/2 ("x"/"y"/"z"), of wrapped positions."""

    axis: int
    lo: float
    hi: float

    def inside(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
        c = _wrapped(positions, cell)[:, self.axis]
        return (c >= self.lo) & (c < self.hi)


@dataclass(frozen=True)
class Cylinder:
    """Within ``radius`` Å of the line through ``point`` along ``direction`` (minimum image)."""

    point: tuple[float, float, float]
    direction: tuple[float, float, float]
    radius: float

    def inside(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
        d = positions - np.asarray(self.point)
        frac = d @ np.linalg.inv(cell)
        d = (frac - np.round(frac)) @ cell
        u = np.asarray(self.direction, float)
        u = u / np.linalg.norm(u)
        perp = d - np.outer(d @ u, u)
        return np.linalg.norm(perp, axis=1) <= self.radius


@dataclass(frozen=True)
class PlaneBand:
    """dmin ≤ signed distance from the plane (point, normal) < dmax, of wrapped positions."""

    point: tuple[float, float, float]
    normal: tuple[float, float, float]
    dmin: float
    dmax: float

    def inside(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
        n = np.asarray(self.normal, float)
        dist = (_wrapped(positions, cell) - np.asarray(self.point)) @ (n / np.linalg.norm(n))
        return (dist >= self.dmin) & (dist < self.dmax)


def parse_region(text: str):
    """CLI form: ``slab:z:LO:HI``, ``cylinder:X,Y,Z:DX,DY,DZ:R``,
    ``plane:X,Y,Z:NX,NY,NZ:DMIN:DMAX`` (Å)."""
    parts = text.split(":")

    def vec(s):
        v = tuple(float(x) for x in s.split(","))
        if len(v) != 3:
            raise ValueError
        return v

    try:
        if parts[0] == "slab" and len(parts) == 4:
            return Slab("xyz".index(parts[1]), float(parts[2]), float(parts[3]))
        if parts[0] == "cylinder" and len(parts) == 4:
            return Cylinder(vec(parts[1]), vec(parts[2]), float(parts[3]))
        if parts[0] == "plane" and len(parts) == 5:
            return PlaneBand(vec(parts[1]), vec(parts[2]), float(parts[3]), float(parts[4]))
    except ValueError:
        pass
    raise InputError(
        f"cannot read region {text!r}; use slab:z:LO:HI, "
        "cylinder:X,Y,Z:DX,DY,DZ:R or plane:X,Y,Z:NX,NY,NZ:DMIN:DMAX (Å)"
    )


def membership(positions, cells: np.ndarray, region) -> np.ndarray:
    """(n_frames, n_atoms) bool: atom inside the region at that frame."""
    return np.array(
        [
            region.inside(np.asarray(positions[f], float), cells[f])
            for f in range(positions.shape[0])
        ]
    )


def region_msd(
    positions, times_ps, inside: np.ndarray, directions: tuple[str, ...] = ("xyz",)
) -> MSDResult:
    """MSD (Å²) over (atom, origin, lag) triples where the atom stayed inside throughout.

    ``n_atoms`` of the result is the mean number of atoms inside (the effective sample size
    for the error model); lags no pair reaches are nan.
    """
    dt = check_times(np.asarray(times_ps, float))
    T, N = inside.shape
    sums = {d: np.zeros(T) for d in directions}
    counts = np.zeros(T)
    grid = lag_grid(T)
    s1 = {d: np.zeros(len(grid)) for d in directions}
    s2 = {d: np.zeros(len(grid)) for d in directions}
    gcount = np.zeros(len(grid))
    for a in range(N):
        col = np.concatenate([[False], inside[:, a], [False]])
        edges = np.flatnonzero(np.diff(col.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            L = stop - start
            if L < 2:
                counts[0] += L
                continue
            x = np.asarray(positions[start:stop, a], float)
            for m in range(1, L):
                sq = (x[m:] - x[:-m]) ** 2
                for d in directions:
                    sums[d][m] += sq[:, list(DIRECTIONS[d])].sum()
                counts[m] += L - m
            for g, m in enumerate(grid):
                if m >= L:
                    break
                sq = (x[m:] - x[:-m]) ** 2
                for d in directions:
                    v = sq[:, list(DIRECTIONS[d])].sum(axis=1)
                    s1[d][g] += v.sum()
                    s2[d][g] += (v * v).sum()
                gcount[g] += L - m
    with np.errstate(invalid="ignore", divide="ignore"):
        msd = {d: np.where(counts > 0, sums[d] / counts, np.nan) for d in directions}
        mean = {d: s1[d] / gcount for d in directions}
        var = {d: s2[d] / gcount - mean[d] ** 2 for d in directions}
    for d in directions:
        msd[d][0] = 0.0
    return MSDResult(
        lag_ps=dt * np.arange(T),
        msd_A2=msd,
        per_atom_A2={},
        n_atoms=max(1, round(inside.sum() / T)),
        n_frames=T,
        grid=grid,
        sd_mean_A2=mean,
        sd_var_A4=var,
    )


@dataclass(frozen=True)
class PenetrationProfile:
    """Number density (atoms/Å³) of ``species`` against depth (Å, bin centres) along ``axis``
    at the frames nearest the requested times: density[k] is for times_ps[k]."""

    species: str
    axis: int
    depth_A: np.ndarray
    times_ps: np.ndarray
    density_A3: np.ndarray


def penetration_profile(
    traj, species: str, axis: int | str, times_ps, n_bins: int = 50
) -> PenetrationProfile:
    """Density of ``species`` vs the wrapped coordinate along a cell axis at given times."""
    axis = "xyz".index(axis) if isinstance(axis, str) else int(axis)
    idx = traj.select(species)
    frames = [int(np.argmin(np.abs(traj.times_ps - t))) for t in np.atleast_1d(times_ps)]
    height = float(traj.cells[frames[0]][axis, axis])
    edges = np.linspace(0, height, n_bins + 1)
    dens = []
    for f in frames:
        cell = traj.cells[f]
        c = _wrapped(traj.positions[f, idx], cell)[:, axis]
        hist, _ = np.histogram(c, bins=edges)
        area = abs(np.linalg.det(cell)) / cell[axis, axis]
        dens.append(hist / (area * np.diff(edges)))
    return PenetrationProfile(
        species, axis, 0.5 * (edges[1:] + edges[:-1]), traj.times_ps[frames], np.array(dens)
    )
