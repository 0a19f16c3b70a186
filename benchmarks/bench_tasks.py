"""No-op tasks for the engine benchmark (importable by worker processes)."""

from atomflow.graph import task


@task()
def af_noop(x=None, i: int = 0):
    return i


try:
    from jobflow import job

    @job
    def jf_noop(x=None, i: int = 0):
        return i
except ImportError:  # jobflow is a benchmark-only dependency
    jf_noop = None
