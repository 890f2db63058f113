"""Model runtimes. Weights ship inside installed packages and are located, never downloaded."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRef:
    """The identity a result's lineage records: which model, which version of it."""

    id: str
    version: str
