"""Run one MD stage from a JSON job file: ``python -m atomflow.md job.json``.

The job file names a structure file, a potential and a protocol. This entry point is what
``mpiexec -np N`` (or a queue template's launcher) runs; under MPI every rank executes it
and rank 0 writes the files.

    {"structure": "cell.cif", "potential": "li3n-esnap", "workdir": "run",
     "protocol": {"ensemble": "nvt", "temperature_K": 600, "steps": 1000}}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pymatgen.core import Structure

from atomflow.errors import AtomflowError
from atomflow.md.protocols import MDProtocol
from atomflow.md.runner import MDInterrupted, run_md
from atomflow.md.session import finalize_mpi
from atomflow.potentials import get_potential

#: Exit code that asks a queue template to resubmit: the run stopped at a restart point.
EXIT_REQUEUE = 99


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m atomflow.md JOB.json", file=sys.stderr)
        return 2
    job_path = Path(args[0])
    try:
        job = json.loads(job_path.read_text())
        structure = Structure.from_file(job_path.parent / job["structure"])
        result = run_md(
            structure,
            get_potential(job["potential"]),
            MDProtocol(**job["protocol"]),
            job_path.parent / job.get("workdir", "."),
        )
    except MDInterrupted as exc:
        print(f"atomflow.md: {exc}", file=sys.stderr)
        finalize_mpi()  # every rank stops at the same restart point
        return EXIT_REQUEUE
    except (AtomflowError, OSError, KeyError, ValueError) as exc:
        print(f"atomflow.md: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()))
    finalize_mpi()
    return 0


if __name__ == "__main__":
    sys.exit(main())
