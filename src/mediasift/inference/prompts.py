"""Versioned prompt templates for remote chat models.

A template's id and version name the prompt a result came from: they are part of the result cache
key and of the model version recorded with each call, so rewording a prompt means a new version
(and results made with the old wording are told apart from the new ones, never mixed up).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass


class PromptError(ValueError):
    """A template that does not exist, or variables that do not fit it."""


@dataclass(frozen=True)
class PromptTemplate:
    """A system and a user message with ``{name}`` placeholders; ``max_tokens`` caps the answer."""

    id: str
    version: str
    system: str
    user: str
    max_tokens: int = 120

    @property
    def key(self) -> str:
        """``id@version``: how results and counters name the prompt."""
        return f"{self.id}@{self.version}"

    @property
    def variables(self) -> frozenset[str]:
        names: set[str] = set()
        for text in (self.system, self.user):
            names.update(field for _, field, _, _ in string.Formatter().parse(text) if field)
        return frozenset(names)

    def render(self, variables: Mapping[str, str]) -> tuple[str, str]:
        """The system and user messages with ``variables`` filled in; each placeholder needs a value
        and no value may go unused (a typo would otherwise change nothing, silently)."""
        missing = self.variables - set(variables)
        unused = set(variables) - self.variables
        if missing or unused:
            raise PromptError(
                f"prompt {self.key} takes {sorted(self.variables)}; missing {sorted(missing)}, unknown {sorted(unused)}"
            )
        return self.system.format_map(variables), self.user.format_map(variables)


_SEARCH_SYSTEM = (
    "You describe pictures for a search index. Be literal and concrete: name the visible subjects, "
    "setting, colours and any legible text. Do not guess names of people or speculate."
)

TEMPLATES: dict[str, PromptTemplate] = {
    t.id: t
    for t in (
        PromptTemplate(
            id="caption",
            version="1",
            system=_SEARCH_SYSTEM,
            user="Describe this picture in one or two plain sentences.",
            max_tokens=120,
        ),
        PromptTemplate(
            id="tags",
            version="1",
            system=_SEARCH_SYSTEM,
            user="List up to {count} short tags for this picture, comma-separated, lower case, nothing else.",
            max_tokens=80,
        ),
        PromptTemplate(
            id="visual_question",
            version="1",
            system="You answer questions about a picture briefly and only from what is visible in it.",
            user="{question}",
            max_tokens=200,
        ),
    )
}


def get_template(template_id: str) -> PromptTemplate:
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise PromptError(f"no prompt template {template_id!r}; there are {sorted(TEMPLATES)}") from None
