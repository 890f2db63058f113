"""Unique made-up facts, each with a paraphrase that shares few of its words.

A fact is a subject, an action and a place. Each part has ten variants, and each variant a wording
and a paraphrase written apart (different words for the same meaning). Facts are drawn on a Latin
square (subject i, action j, place (i + j) mod 10), so any two facts share at most one part: a search
by a fact's paraphrase must find that fact, not one that merely shares its subject or its place.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBJECTS = (
    ("The old lighthouse keeper", "An elderly guardian of the coastal beacon"),
    ("A retired violinist", "A former string musician who has stopped performing"),
    ("The village blacksmith", "The local ironworker who forges horseshoes"),
    ("A young marine biologist", "A junior scientist who studies ocean life"),
    ("The night-shift baker", "The person who makes bread before dawn"),
    ("A volunteer firefighter", "An unpaid member of the local fire brigade"),
    ("The museum's chief archivist", "The head keeper of the gallery's historical records"),
    ("A long-distance truck driver", "Someone who hauls freight across the country by lorry"),
    ("The orchard's beekeeper", "The person tending hives among the fruit trees"),
    ("A glacier researcher", "A scientist measuring rivers of ice"),
)

ACTIONS = (
    ("repaired a broken weather vane", "fixed a damaged device that shows wind direction"),
    ("rescued three stranded seal pups", "saved a trio of young seals that had been left on the shore"),
    ("found a rusted cannonball", "dug up an old corroded artillery shell"),
    ("planted two hundred apple saplings", "put in a couple of hundred young apple trees"),
    ("restored a cracked stained-glass window", "mended a broken church window of coloured glass pieces"),
    ("taught origami to schoolchildren", "showed pupils how to fold paper into shapes"),
    ("photographed a rare snowy owl", "took pictures of an uncommon white arctic bird of prey"),
    ("built a wooden rowing boat", "constructed a small timber vessel moved with oars"),
    ("discovered a hidden underground spring", "came across a concealed source of water beneath the earth"),
    ("rebuilt a collapsed stone wall", "put back together a fallen dry-stone barrier"),
)

PLACES = (
    ("in a fishing town on the Faroe Islands", "on a North Atlantic archipelago known for its fishermen"),
    ("near a volcano in southern Iceland", "close to an erupting mountain on the Nordic island's south coast"),
    ("at a monastery in the Carpathian mountains", "in a religious retreat high in the Romanian highlands"),
    ("beside a salt lake in Bolivia", "on the shore of a briny Andean basin"),
    ("on a tea estate in Sri Lanka", "on a plantation of camellia bushes in the island south of India"),
    ("inside an abandoned copper mine in Chile", "in a disused pit where red metal ore was once dug in the Andes"),
    ("at a lighthouse on the coast of Tasmania", "by a signal tower on the shore of the Australian island state"),
    ("in a vineyard outside Tbilisi", "among grapevines near the Georgian capital"),
    ("on a reindeer farm in Lapland", "where herders keep antlered deer in the Finnish north"),
    ("at a harbour in Zanzibar", "in a port on the spice island off Tanzania"),
)


@dataclass(frozen=True)
class Fact:
    text: str
    paraphrase: str


def facts(count: int = 100) -> list[Fact]:
    """``count`` (at most 100) facts, no two sharing more than one of subject, action and place."""
    if not 0 < count <= len(SUBJECTS) * len(ACTIONS):
        raise ValueError(f"between 1 and {len(SUBJECTS) * len(ACTIONS)} facts, not {count}")
    out = []
    for index in range(count):
        i, j = divmod(index, len(ACTIONS))
        subject, action, place = SUBJECTS[i], ACTIONS[j], PLACES[(i + j) % len(PLACES)]
        out.append(
            Fact(
                text=f"{subject[0]} {action[0]} {place[0]}.",
                paraphrase=f"{subject[1]} {action[1]} {place[1]}.",
            )
        )
    return out
