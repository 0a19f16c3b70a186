"""A workflow: task nodes whose references define a networkx DiGraph.

The graph is derived from the references, never edited by hand. Building validates it:
cycles, references to nodes outside the workflow and unknown task names are rejected with
messages that name the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from atomflow.graph.errors import WorkflowError
from atomflow.graph.task import OutputRef, TaskNode, iter_refs, resolve_task, substitute
from atomflow.hashing import task_identity


class Workflow:
    """An ordered collection of task nodes with unique labels."""

    def __init__(self, nodes: Iterable[TaskNode] = (), name: str = "workflow"):
        self.name = name
        self._nodes: dict[str, TaskNode] = {}
        for node in nodes:
            self.add(node)

    def add(self, node: TaskNode, label: str | None = None) -> TaskNode:
        """Add ``node``; labels default to the function name plus a counter."""
        if not isinstance(node, TaskNode):
            raise WorkflowError(f"workflow {self.name}: {node!r} is not a task node")
        label = label or node.label or self._auto_label(node)
        if label in self._nodes and self._nodes[label] is not node:
            raise WorkflowError(f"workflow {self.name}: duplicate task label {label!r}")
        node.label = label
        self._nodes[label] = node
        return node

    def _auto_label(self, node: TaskNode) -> str:
        base = node.fn.func.__name__
        i = 0
        while f"{base}-{i}" in self._nodes:
            i += 1
        return f"{base}-{i}"

    @property
    def nodes(self) -> dict[str, TaskNode]:
        return dict(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def graph(self) -> nx.DiGraph:
        """Dependency graph (edge upstream → downstream); raises on dangling refs or cycles."""
        g = nx.DiGraph()
        members = {id(n): label for label, n in self._nodes.items()}
        for label, node in self._nodes.items():
            g.add_node(label)
            for ref in iter_refs(node.inputs):
                upstream = members.get(id(ref.node))
                if upstream is None:
                    raise WorkflowError(
                        f"task {label!r} refers to {ref.node.label or ref.node.fn.name!r}, "
                        f"which is not part of workflow {self.name!r}; add it first"
                    )
                g.add_edge(upstream, label)
        if not nx.is_directed_acyclic_graph(g):
            cycle = nx.find_cycle(g)
            path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
            raise WorkflowError(f"workflow {self.name!r} has a cycle: {path}")
        return g

    def identities(self) -> dict[str, str]:
        """Content identity of every node, upstream identities standing in for references."""
        g = self.graph()
        ids: dict[str, str] = {}
        for label in nx.lexicographical_topological_sort(g):
            node = self._nodes[label]
            ids[label] = task_identity(
                node.fn.name, node.fn.version, self.identity_inputs(label, ids)
            )
        return ids

    def identity_inputs(self, label: str, ids: dict[str, str]) -> Any:
        """Inputs of ``label`` with references replaced by upstream identities (as hashed)."""
        return substitute(
            self._nodes[label].inputs,
            lambda r: {"@ref": ids[r.node.label], "path": list(r.path)},
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], name: str | None = None) -> Workflow:
        """Build from a declarative form.

        ``{"tasks": {label: {"task": "pkg.mod:func", "inputs": {...}}}}``; an input string
        ``"@label"`` or ``"@label.key.sub"`` refers to another task's output.
        """
        tasks = spec.get("tasks")
        if not isinstance(tasks, Mapping) or not tasks:
            raise WorkflowError("a declarative workflow needs a non-empty 'tasks' table")
        wf = cls(name=name or str(spec.get("name", "workflow")))
        fns = {}
        for label, entry in tasks.items():
            if not isinstance(entry, Mapping) or "task" not in entry:
                raise WorkflowError(f"task {label!r}: needs a 'task = \"module:function\"' entry")
            try:
                fns[label] = resolve_task(str(entry["task"]))
            except WorkflowError as exc:
                raise WorkflowError(f"task {label!r}: {exc}") from None
        nodes = {label: TaskNode(fns[label], {}, label) for label in tasks}

        def to_ref(value: Any, owner: str) -> Any:
            if isinstance(value, str) and value.startswith("@"):
                target, *path = value[1:].split(".")
                if target not in nodes:
                    raise WorkflowError(
                        f"task {owner!r} refers to unknown task {target!r} (known: "
                        f"{', '.join(sorted(nodes))})"
                    )
                return OutputRef(nodes[target], tuple(path))
            if isinstance(value, Mapping):
                return {k: to_ref(v, owner) for k, v in value.items()}
            if isinstance(value, list):
                return [to_ref(v, owner) for v in value]
            return value

        for label, entry in tasks.items():
            node = nodes[label]
            call = node.fn(**to_ref(dict(entry.get("inputs", {})), label), label=label)
            node.inputs = call.inputs
            wf.add(node)
        wf.graph()
        return wf
