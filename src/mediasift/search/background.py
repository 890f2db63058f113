"""How far above its background a multilingual-e5 similarity stands, for one query.

multilingual-e5's cosines sit high and close together, and where depends on the query: texts in
other languages that mean an English query scored 0.78-0.89, texts about something else 0.67-0.80 (a
German beekeeping report 0.78 for "honey bees", under the old fixed floor of 0.8, while any query
scored some unrelated texts 0.79). So a hit is measured against the query's own background: its
cosines with :data:`PASSAGES`, everyday sentences in the languages people write besides English, on
topics no query is about. A hit's standing is its cosine less their mean, in their standard
deviations (a z-score)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the door is handed in
    from mediasift.inference.door import Inference, Vectors

PASSAGES = (
    "Der Hausmeister hat die Heizung im Keller repariert.",
    "Im Garten blühen im April die ersten Tulpen.",
    "Die Stadtverwaltung hat die Gebühren für das Parken erhöht.",
    "Am Wochenende spielt das Orchester Werke von Brahms.",
    "Das neue Telefon hat eine bessere Kamera und einen größeren Akku.",
    "Die Kinder lernen in der Schule das Einmaleins.",
    "Nach dem Umzug fehlt noch ein Regal für die Bücher.",
    "Le boulanger ouvre sa boutique à six heures du matin.",
    "La réunion du conseil municipal est reportée à jeudi.",
    "Les randonneurs ont atteint le sommet avant midi.",
    "Cette voiture électrique consomme peu d'énergie en ville.",
    "Le musée présente une exposition sur la photographie ancienne.",
    "Il faut arroser les tomates tous les deux jours en été.",
    "Ma sœur apprend le piano depuis trois ans.",
    "El ayuntamiento renovará la plaza mayor el próximo año.",
    "Los precios del alquiler han subido mucho en la capital.",
    "El equipo de baloncesto ganó el partido en el último minuto.",
    "Mi abuela prepara una sopa de verduras los domingos.",
    "La biblioteca abre hasta las ocho de la tarde.",
    "El vuelo a Lima salió con una hora de retraso.",
    "Il treno regionale ferma in tutte le stazioni del percorso.",
    "La pizzeria sotto casa fa anche consegne a domicilio.",
    "Domani il negozio resterà chiuso per inventario.",
    "O hospital inaugurou uma nova ala de pediatria.",
    "As aulas de natação começam na próxima segunda-feira.",
    "A padaria da esquina vende pão quente ao fim da tarde.",
    "De fietsenmaker repareert ook elektrische fietsen.",
    "Het museum is op maandag gesloten.",
    "Kolej podmiejska kursuje co pół godziny.",
    "Biblioteka miejska organizuje warsztaty dla dzieci.",
    "Tåget till Göteborg är inställt på grund av snö.",
    "Kahvila avaa ovensa kello seitsemän aamulla.",
)
MIN_SPREAD = 0.005  # a background that spread less (never seen) would make every standing huge

_vectors: dict[str, np.ndarray] = {}
_lock = threading.Lock()


def standing(inference: Inference, query: Vectors) -> tuple[float, float]:
    """The mean and standard deviation of ``query``'s cosines (a multilingual-e5 query vector) with
    the background passages, embedded once a process (and cached by the door like any text)."""
    model = inference.multilingual_ref.id
    with _lock:
        if model not in _vectors:
            _vectors[model] = np.asarray(inference.embed_multilingual(list(PASSAGES)), dtype=np.float32)
        background = _vectors[model]
    cosines = background @ np.asarray(query, dtype=np.float32).ravel()
    return float(cosines.mean()), max(float(cosines.std()), MIN_SPREAD)
