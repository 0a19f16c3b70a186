"""Write LAMMPS dumps from known unwrapped positions (test helper, no LAMMPS needed)."""

import numpy as np


def lammps_box(cell):
    """(xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz) of a LAMMPS-style cell (lower triangular)."""
    vals = (0.0, cell[0, 0], 0.0, cell[1, 1], 0.0, cell[2, 2], cell[1, 0], cell[2, 0], cell[2, 1])
    return tuple(float(v) for v in vals)


def write_dump(
    path,
    steps,
    unwrapped,
    cells,
    types,
    columns="id type x y z ix iy iz",
    shuffle_seed=None,
    triclinic=None,
    fmt="{:.10f}",
):
    """Frames with positions wrapped into each frame's cell and the matching image flags."""
    cols = columns.split()
    rng = np.random.default_rng(shuffle_seed)
    with open(path, "w") as f:
        for k, step in enumerate(steps):
            cell = cells[k]
            frac = unwrapped[k] @ np.linalg.inv(cell)
            img = np.floor(frac)
            wfrac = frac - img
            wrapped = wfrac @ cell
            xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz = lammps_box(cell)
            tri = triclinic if triclinic is not None else bool(xy or xz or yz)
            f.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(types)}\n")
            if tri:
                xlb = xlo + min(0, xy, xz, xy + xz)
                xhb = xhi + max(0, xy, xz, xy + xz)
                ylb, yhb = ylo + min(0, yz), yhi + max(0, yz)
                f.write(
                    f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlb!r} {xhb!r} {xy!r}\n"
                    f"{ylb!r} {yhb!r} {xz!r}\n{zlo!r} {zhi!r} {yz!r}\n"
                )
            else:
                f.write(f"ITEM: BOX BOUNDS pp pp pp\n{xlo} {xhi}\n{ylo} {yhi}\n{zlo} {zhi}\n")
            f.write("ITEM: ATOMS " + " ".join(cols) + "\n")
            values = {
                "id": np.arange(1, len(types) + 1),
                "type": np.asarray(types),
                "x": wrapped[:, 0],
                "y": wrapped[:, 1],
                "z": wrapped[:, 2],
                "xs": wfrac[:, 0],
                "ys": wfrac[:, 1],
                "zs": wfrac[:, 2],
                "xu": unwrapped[k][:, 0],
                "yu": unwrapped[k][:, 1],
                "zu": unwrapped[k][:, 2],
                "xsu": frac[:, 0],
                "ysu": frac[:, 1],
                "zsu": frac[:, 2],
                "ix": img[:, 0].astype(int),
                "iy": img[:, 1].astype(int),
                "iz": img[:, 2].astype(int),
                "q": np.where(np.asarray(types) == 1, 1.0, -1.0),
                "vx": np.zeros(len(types)),
                "vy": np.zeros(len(types)),
                "vz": np.zeros(len(types)),
            }
            order = rng.permutation(len(types)) if shuffle_seed is not None else range(len(types))
            for i in order:
                f.write(
                    " ".join(
                        fmt.format(values[c][i])
                        if values[c].dtype.kind == "f"
                        else str(values[c][i])
                        for c in cols
                    )
                    + "\n"
                )


def known_walk(n_frames=30, n_atoms=12, seed=0, step=1.5):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 8, (1, n_atoms, 3))
    return start + np.cumsum(rng.normal(0, step, (n_frames, n_atoms, 3)), axis=0)
