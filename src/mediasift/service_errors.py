"""What the Python API raises for a caller to tell apart (the doors map each to an answer)."""

from __future__ import annotations


class AssetNotFound(LookupError):
    pass


class AmbiguousAsset(AssetNotFound):
    """An id prefix that several of the tenant's assets start with: give more of it."""


class NotReady(RuntimeError):
    """The database or the broker cannot be reached."""


class QueueFull(RuntimeError):
    """The queue is past its high-water mark: a caller that cannot wait (the HTTP API) is told to
    come back later instead."""


class NothingToExport(LookupError):
    """The asset is there, but not what was asked of it: it has no speech or no timed on-screen text,
    or the operator that finds it has not run on it yet, or failed. The message says which."""


class PersonNotFound(LookupError):
    """No person of the tenant has that id or name."""


class PersonConflict(ValueError):
    """What was asked of people cannot be: a name another person has, a merge of a person into
    itself, a split that would take all of a person's faces or faces it does not have."""


class BadPersonName(PersonConflict):
    """A name no person can have: control characters, direction marks, a "/", too long, or only digits
    (read as an id)."""


class BadQuery(ValueError):
    """A search query that cannot be searched (:func:`mediasift.search.query.problem`): nothing to look
    for, too long, or with control characters."""
