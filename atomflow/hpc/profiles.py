"""Site profiles: how to launch work on one machine (scheduler, queue, modules, MPI, LAMMPS).

A profile is a TOML file. Shipped profiles live in ``hpc/profiles/`` (``atomflow hpc
profiles`` lists them); a site copies one, edits it, and passes its path. A profile may
point at its own job-script template (``template = "my-slurm.sh.j2"``, relative to the
profile file), so users can own their scripts without forking atomflow.

Every value that reaches a job script is checked here or shell-quoted by the renderer.
``setup`` lines are the one exception: they are shell code written by the profile's owner
(``source /opt/intel/setvars.sh``) and are pasted as they are, one line each.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from atomflow.errors import InputError
from atomflow.resources import data_dir

SchedulerName = Literal["slurm", "sge", "pbs", "lsf"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIRECTIVE_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./~^\[\]-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$")


def check_line(value: str, what: str) -> str:
    """Reject control characters (newline, carriage return, NUL …) in a one-line value."""
    if _CONTROL.search(value):
        raise InputError(f"{what} {value!r} contains a newline or control character")
    return value


def check_directive_value(value: str, what: str) -> str:
    """Validate text that goes into a scheduler directive line (``#SBATCH …``).

    Directive lines are comments to bash; only a newline could escape one, and scheduler
    parsers split on whitespace and treat quotes and ``$`` their own way. So only letters,
    digits and ``_ @ % + = : , . / ~ ^ [ ] -`` are accepted; nothing is escaped.
    """
    if not isinstance(value, str) or not _DIRECTIVE_SAFE.match(value):
        raise InputError(
            f"{what} {value!r} cannot go into a scheduler directive; use only letters, "
            "digits and _ @ % + = : , . / ~ ^ [ ] - (no spaces, quotes, $, ; or backquotes)"
        )
    return value


def parse_walltime(value: str | int) -> int:
    """Seconds from ``int`` seconds, ``HH:MM``, ``HH:MM:SS`` or ``D-HH:MM:SS``."""
    if isinstance(value, bool):
        raise InputError(f"walltime {value!r} is not a duration")
    if isinstance(value, int):
        seconds = value
    else:
        m = _WALLTIME.match(str(value).strip())
        if not m:
            raise InputError(
                f"walltime {value!r} is not a duration; write HH:MM:SS, D-HH:MM:SS or seconds"
            )
        days, hours, minutes, secs = (int(g) if g else 0 for g in m.groups())
        if minutes > 59 or secs > 59:
            raise InputError(f"walltime {value!r}: minutes and seconds must be below 60")
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds < 1:
        raise InputError(f"walltime {value!r} must be at least one second")
    return seconds


class LammpsSettings(BaseModel):
    """How a task starts LAMMPS here: an executable or the ``lammps`` Python module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(default_factory=lambda: ["lmp"])
    python_module: str = "lammps"
    args: list[str] = Field(default_factory=list, description="always passed (e.g. -nocite)")
    gpu_args: list[str] = Field(
        default_factory=list,
        description="added for GPU jobs: ['-sf', 'gpu', '-pk', 'gpu', '1'] or "
        "['-k', 'on', 'g', '1', '-sf', 'kk', '-pk', 'kokkos', 'neigh', 'half']",
    )

    @field_validator("command", "args", "gpu_args")
    @classmethod
    def _one_line_words(cls, v: list[str]) -> list[str]:
        return [check_line(w, "LAMMPS argument") for w in v]

    @field_validator("python_module")
    @classmethod
    def _module_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", v):
            raise ValueError(f"python_module {v!r} is not a dotted module name")
        return v


class SiteProfile(BaseModel):
    """One machine: scheduler, queue, account, software environment, launcher, defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    description: str = ""
    scheduler: SchedulerName
    pbs_flavor: Literal["pro", "torque"] = Field(
        "pro", description="PBS only: PBS Pro/OpenPBS (-J arrays) or Torque (-t arrays)"
    )
    queue: str | None = Field(
        None, validation_alias=AliasChoices("queue", "partition"), description="partition/queue"
    )
    account: str | None = None
    qos: str | None = None
    parallel_environment: str | None = Field(
        None, description="Grid Engine: PE for multi-slot jobs (-pe NAME N), e.g. smp or mpi"
    )
    cores_per_node: int = Field(1, ge=1)
    gpus_per_node: int = Field(0, ge=0)
    walltime: int = Field(3600, description="default limit, seconds (TOML: '02:00:00' or 7200)")
    warning_seconds: int = Field(
        300, ge=0, description="warning signal this long before the limit (0: none)"
    )
    modules: list[str] = Field(default_factory=list)
    module_purge: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    setup: list[str] = Field(default_factory=list, description="trusted shell lines")
    launcher: list[str] = Field(
        default_factory=list,
        description="MPI launcher argv; {ntasks}, {nodes}, {cpus_per_task} are filled in",
    )
    cancel_invalid_dependents: bool = Field(
        True,
        description="ask the scheduler to cancel a job whose dependency failed (Slurm "
        "--kill-on-invalid-dep=yes, LSF -ti); atomflow detects and cancels such jobs anyway",
    )
    lammps: LammpsSettings = Field(default_factory=LammpsSettings)
    extra_directives: list[str] = Field(
        default_factory=list, description="options added as directives, e.g. '--constraint=cpu'"
    )
    template: Path | None = Field(None, description="own Jinja2 template (copied from hpc/)")

    @field_validator("walltime", mode="before")
    @classmethod
    def _walltime(cls, v: str | int) -> int:
        return parse_walltime(v)

    @field_validator("name", "queue", "account", "qos", "parallel_environment")
    @classmethod
    def _directive_words(cls, v: str | None, info) -> str | None:
        return None if v is None else check_directive_value(v, info.field_name)

    @field_validator("extra_directives")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        for d in v:
            check_line(d, "extra directive")
            if not d.startswith("-") or d.strip() != d:
                raise ValueError(
                    f"extra directive {d!r} must be an option such as '--constraint=cpu' "
                    "(starting with '-', no leading/trailing space; the #SBATCH prefix is added)"
                )
            if re.search(r"[`$\\;]", d):
                raise ValueError(f"extra directive {d!r} contains one of ` $ \\ ;")
        return v

    @field_validator("modules", "setup", "launcher")
    @classmethod
    def _lines(cls, v: list[str], info) -> list[str]:
        return [check_line(x, info.field_name) for x in v]

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"environment variable name {key!r} is not a shell identifier")
            check_line(value, f"env value of {key}")
        return v

    def launcher_argv(self, ntasks: int, nodes: int, cpus_per_task: int) -> list[str]:
        """The MPI launcher words with ``{ntasks}``, ``{nodes}``, ``{cpus_per_task}`` filled."""
        values = {"ntasks": ntasks, "nodes": nodes, "cpus_per_task": cpus_per_task}
        try:
            return [w.format(**values) for w in self.launcher]
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(
                f"profile {self.name}: launcher {self.launcher!r} uses an unknown placeholder "
                f"({exc}); allowed: {{ntasks}}, {{nodes}}, {{cpus_per_task}}"
            ) from None


def profile_dir() -> Path:
    """The shipped profiles folder (inside the installed package)."""
    return data_dir("hpc") / "profiles"


def list_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in profile_dir().glob("*.toml"))


def load_profile(name_or_path: str | Path) -> SiteProfile:
    """Load a profile from a TOML path, or a shipped one by name (``local-slurm``).

    A relative ``template`` in the file is resolved against the file's folder.
    """
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        shipped = profile_dir() / f"{name_or_path}.toml"
        if not shipped.is_file():
            raise InputError(
                f"no site profile {str(name_or_path)!r}: not a file, and not a shipped profile "
                f"(shipped: {', '.join(list_profiles())})"
            )
        path = shipped
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"site profile {path}: invalid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    if data.get("template"):
        data["template"] = str((path.parent / Path(data["template"]).expanduser()).resolve())
    try:
        return SiteProfile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"site profile {path}: {_first_errors(exc)}") from None


def _first_errors(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e["loc"]) or "profile"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)
