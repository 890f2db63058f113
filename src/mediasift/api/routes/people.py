"""People: the tenant's faces grouped as one person each; naming, merging and splitting them needs
a write key (the gate's rule for every method but GET and HEAD). Unknown people answer 404, a name
another person has or a split or merge that cannot be 409, both as problem+json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BeforeValidator, Field

from mediasift.api.body import RequestBody
from mediasift.api.deps import OwnTenant
from mediasift.api.problems import documented
from mediasift.service import Mediasift
from mediasift.service_models import PeopleMerged, PeopleSplit, Person, PersonDetail, PersonList

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# A person is named by id or name; ids come as the integers the listings give, or as text.
PersonRef = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
    Field(min_length=1, max_length=200, pattern=PRINTABLE),
]
PersonPath = Annotated[str, Path(min_length=1, max_length=200, description="The person's id or name.")]


class Naming(RequestBody):
    name: str | None = Field(max_length=200, pattern=PRINTABLE, description="The person's name; null or blank: none.")


class Merge(RequestBody):
    people: Annotated[
        list[PersonRef], Field(min_length=1, max_length=100, description="Ids or names of the people to merge in.")
    ]


class Split(RequestBody):
    face_ids: Annotated[
        list[Annotated[int, Field(ge=1, le=2**63 - 1)]],
        Field(min_length=1, max_length=10_000, description="Faces to move out."),
    ]
    name: str | None = Field(default=None, max_length=200, pattern=PRINTABLE, description="A name for the new person.")


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1/people", tags=["people"])

    @api.get("", responses=documented(422))
    def listing(
        tenant: OwnTenant,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> PersonList:
        """The tenant's people, oldest first, with how many faces and assets each has."""
        return system.people.page(tenant, cursor=cursor, limit=limit)

    @api.get("/{person}", responses=documented(404, 422))
    def show(person: PersonPath, tenant: OwnTenant, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> PersonDetail:
        """A person, by id or name, and where they appear (newest asset first)."""
        return system.people.get(tenant, person, limit=limit)

    @api.patch("/{person}", responses=documented(404, 409, 422))
    def rename(person: PersonPath, body: Naming, tenant: OwnTenant, request: Request) -> Person:
        """Name, rename or unname a person (409 when another person has the name: merge them)."""
        request.state.audit_target = person
        return system.people.name(tenant, person, body.name)

    @api.post("/{person}/merge", responses=documented(404, 409, 422))
    def merge(person: PersonPath, body: Merge, tenant: OwnTenant, request: Request) -> PeopleMerged:
        """Merge other people into this one: their faces move here, and they are gone."""
        request.state.audit_target = person
        return system.people.merge(tenant, person, body.people)

    @api.post("/{person}/split", status_code=201, responses=documented(404, 409, 422))
    def split(person: PersonPath, body: Split, tenant: OwnTenant, request: Request) -> PeopleSplit:
        """Move some of a person's faces out into a new person (201, both people in the answer)."""
        request.state.audit_target = person
        return system.people.split(tenant, person, body.face_ids, body.name)

    return api
