"""Small tasks used by the engine tests (importable by name from worker processes)."""

from atomflow.graph import task


@task()
def add(a: float, b: float) -> float:
    return a + b


@task()
def make_dict(x: float) -> dict:
    return {"value": x, "nested": {"double": 2 * x}}


@task()
def boom(x: float) -> float:
    raise RuntimeError(f"boom at {x}")


@task()
def noop(i: int = 0) -> int:
    return i


@task()
def touch(name: str, workdir=None) -> str:
    (workdir / f"{name}.txt").write_text(name)
    return name


@task()
def segfault(x: int) -> int:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return x
