"""Tasks are plain functions; calling a decorated task inside a workflow builds a delayed node.

A node's outputs are reached through :class:`OutputRef` objects (``node["lattice"]["a"]``),
which the engine resolves from the store once the upstream task has finished.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from atomflow.graph.errors import WorkflowError

#: Parameters the engine injects at run time; they never take part in a task's identity.
INJECTED = ("workdir",)


class TaskFunction:
    """A plain function plus a name and version; calling it returns a :class:`TaskNode`."""

    def __init__(self, func: Callable[..., Any], version: str, name: str | None = None):
        self.func = func
        self.version = str(version)
        self.name = name or f"{func.__module__}:{func.__qualname__}"
        self.signature = inspect.signature(func)
        self.wants_workdir = "workdir" in self.signature.parameters
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __call__(self, *args: Any, label: str | None = None, **kwargs: Any) -> TaskNode:
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise WorkflowError(f"task {self.name}: {exc}") from None
        inputs = {k: v for k, v in bound.arguments.items() if k not in INJECTED}
        missing = [
            p.name
            for p in self.signature.parameters.values()
            if p.default is inspect.Parameter.empty
            and p.name not in inputs
            and p.name not in INJECTED
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if missing:
            raise WorkflowError(f"task {label or self.name}: missing inputs {', '.join(missing)}")
        return TaskNode(self, inputs, label)

    def run(self, **kwargs: Any) -> Any:
        """Call the underlying function directly (no engine, no caching)."""
        return self.func(**kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name} v{self.version}>"


def task(version: str = "1", name: str | None = None) -> Callable[[Callable], TaskFunction]:
    """Decorator: mark a function as a workflow task. Bump ``version`` when results change."""

    def wrap(func: Callable) -> TaskFunction:
        return TaskFunction(func, version=version, name=name)

    return wrap


def resolve_task(name: str) -> TaskFunction:
    """Import a task by its ``module:qualname`` name, as workers and declarative specs do."""
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise WorkflowError(f"task name {name!r} must look like 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise WorkflowError(f"unknown task {name!r}: {exc}") from None
    if not isinstance(obj, TaskFunction):
        raise WorkflowError(f"{name!r} is not an atomflow task (decorate it with @task)")
    return obj


_counter = itertools.count()


@dataclass(eq=False)
class TaskNode:
    """A delayed call of a task with concrete or referenced inputs."""

    fn: TaskFunction
    inputs: dict[str, Any]
    label: str | None = None
    uid: int = field(default_factory=lambda: next(_counter))

    def __getitem__(self, key: str | int) -> OutputRef:
        return OutputRef(self, (key,))

    @property
    def output(self) -> OutputRef:
        return OutputRef(self, ())

    def __repr__(self) -> str:
        return f"<node {self.label or self.fn.name}>"


@dataclass(frozen=True, eq=False)
class OutputRef:
    """A pointer to (part of) another node's future output: node output[path[0]][path[1]]..."""

    node: TaskNode
    path: tuple[str | int, ...] = ()

    def __getitem__(self, key: str | int) -> OutputRef:
        return OutputRef(self.node, (*self.path, key))

    def resolve(self, output: Any) -> Any:
        value = output
        for step in self.path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                where = "".join(f"[{p!r}]" for p in self.path)
                raise WorkflowError(
                    f"output of {self.node.label} has no {where}: missing key {step!r}"
                ) from None
        return value


def iter_refs(value: Any):
    """Yield every OutputRef inside nested dicts, lists and tuples."""
    if isinstance(value, OutputRef):
        yield value
    elif isinstance(value, TaskNode):
        yield value.output
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from iter_refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from iter_refs(v)


def substitute(value: Any, fn: Callable[[OutputRef], Any]) -> Any:
    """Return ``value`` with every OutputRef replaced by ``fn(ref)``."""
    if isinstance(value, OutputRef):
        return fn(value)
    if isinstance(value, TaskNode):
        return fn(value.output)
    if isinstance(value, Mapping):
        return {k: substitute(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(substitute(v, fn) for v in value)
    return value
