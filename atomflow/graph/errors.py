"""Errors of the graph and engine room."""

from atomflow.errors import AtomflowError


class WorkflowError(AtomflowError, ValueError):
    """A workflow could not be built: a cycle, a dangling reference, an unknown task."""
