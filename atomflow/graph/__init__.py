"""The graph and engine room: tasks, references, workflows, the run loop, local executors.

It knows nothing of LAMMPS or of any science: tasks are plain functions.
"""

from atomflow.graph.engine import Engine, RunSummary, run_workflow
from atomflow.graph.errors import WorkflowError
from atomflow.graph.task import OutputRef, TaskFunction, TaskNode, task
from atomflow.graph.worker import write_progress
from atomflow.graph.workflow import Workflow

__all__ = [
    "Engine",
    "OutputRef",
    "RunSummary",
    "TaskFunction",
    "TaskNode",
    "Workflow",
    "WorkflowError",
    "run_workflow",
    "task",
    "write_progress",
]
