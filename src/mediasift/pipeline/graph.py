"""The pipeline of each media type: operators ordered so each runs after what it reads.

What an operator reads, per media type, is the operators it requires by name and every operator of
that media type that produces a kind of output it consumes (:meth:`Pipeline.dependencies`): the
graph is derived from what operators declare, so a plugin that produces text is read by the
text-embedding step without anyone listing it.

Built once and checked at start-up: an operator that requires one that does not exist, or does not
handle that media type, or a cycle, is a wiring error that must never reach a job.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import Operator


class PipelineError(Exception):
    pass


class Pipeline:
    def __init__(self, operators: Sequence[Operator]) -> None:
        self.operators = {op.name: op for op in operators}
        if len(self.operators) != len(operators):
            raise PipelineError("two operators share a name")
        self._dependencies = {
            media_type: {op.name: self._resolve(op, media_type) for op in self._members(media_type)}
            for media_type in MediaType
        }
        self.order = {media_type: self._ordered(media_type) for media_type in MediaType}

    def _members(self, media_type: MediaType) -> list[Operator]:
        return [op for op in self.operators.values() if media_type in op.media_types]

    def _resolve(self, op: Operator, media_type: MediaType) -> tuple[str, ...]:
        producers = [
            other.name for other in self._members(media_type) if other is not op and other.produces & op.consumes
        ]
        return tuple(dict.fromkeys([*op.requires(media_type), *producers]))

    def dependencies(self, op: Operator, media_type: MediaType) -> tuple[str, ...]:
        """The operators whose results ``op`` reads for this media type: those it requires by name
        and those that produce what it consumes."""
        return self._dependencies[media_type][op.name]

    def _ordered(self, media_type: MediaType) -> list[Operator]:
        members = {op.name: op for op in self._members(media_type)}
        ordered: list[Operator] = []
        state: dict[str, str] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise PipelineError(f"cycle in the {media_type} pipeline: {' -> '.join((*path, name))}")
            if name not in members:
                raise PipelineError(f"{path[-1]} requires {name!r}, which handles no {media_type}")
            state[name] = "visiting"
            for dep in self._dependencies[media_type][name]:
                visit(dep, (*path, name))
            state[name] = "done"
            ordered.append(members[name])

        for name in members:
            visit(name, ())
        return ordered

    def for_media(self, media_type: MediaType) -> list[Operator]:
        return self.order[media_type]


def load_operator(spec: str) -> Operator:
    """An operator from ``package.module:ClassName`` (a plugin), instantiated without arguments."""
    module_name, _, attr = spec.strip().partition(":")
    if not module_name or not attr:
        raise PipelineError(f"an operator plugin is named 'package.module:ClassName', not {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PipelineError(f"cannot load operator plugin {spec!r}: {exc}") from exc
    operator = factory()
    if not isinstance(operator, Operator):
        raise PipelineError(f"{spec!r} is not an Operator")
    return operator
