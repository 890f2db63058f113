"""Language identification: lingua's fast mode, its accurate mode, and the router between them.

    .venv/bin/python eval/language.py

120 labelled sentences written for this evaluation: for each of English, German, French, Spanish,
Portuguese and Dutch, ten short ones (one to four words, greetings and stock phrases, where even
people need context) and ten long ones (ten words or more). The language pairs are chosen to be
confusable: Spanish and Portuguese, Dutch and German, and loanwords everywhere.

Prints, for fast only, accurate only (the accurate mode choosing among the fast mode's ten likeliest
languages that score at least a tenth of the best, as the router asks it) and routed (fast, then
accurate when the fast mode's top confidence is under the threshold): accuracy on short, long and
all sentences, the share routed to the accurate mode, and the time per sentence with both models
already loaded. Then the same for a sweep of thresholds (accuracy and share escalated, computed
from the two modes' answers), the load time of each mode, the process's resident memory after each
load, and how many languages the accurate mode loaded.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from mediasift.config import load_settings
from mediasift.inference.catalog import Role
from mediasift.inference.door import Inference
from mediasift.inference.language import candidates
from mediasift.models.language import AccurateModel, FastModel

INFERENCE = Inference(load_settings())

Answer = tuple[str, float] | None

SHORT: dict[str, list[str]] = {
    "en": ["Thank you", "Good morning", "See you later", "Where is it?", "I agree", "Not today",
           "Happy birthday", "Be careful", "Come in", "Well done"],
    "de": ["Danke schön", "Guten Morgen", "Bis später", "Wo ist es?", "Ich weiß nicht", "Nicht heute",
           "Alles gut", "Komm herein", "Vorsicht bitte", "Gut gemacht"],
    "fr": ["Merci beaucoup", "Bonjour", "À plus tard", "Où est-il ?", "Je ne sais pas", "Pas aujourd'hui",
           "Bon anniversaire", "Fais attention", "Entrez", "Bien joué"],
    "es": ["Muchas gracias", "Buenos días", "Hasta luego", "¿Dónde está?", "No lo sé", "Hoy no",
           "Feliz cumpleaños", "Ten cuidado", "Pasa", "Bien hecho"],
    "pt": ["Muito obrigado", "Bom dia", "Até logo", "Onde está?", "Não sei", "Hoje não",
           "Feliz aniversário", "Tenha cuidado", "Pode entrar", "Muito bem"],
    "nl": ["Dank je wel", "Goedemorgen", "Tot later", "Waar is het?", "Ik weet het niet", "Niet vandaag",
           "Gefeliciteerd", "Wees voorzichtig", "Kom binnen", "Goed gedaan"],
}  # fmt: skip

LONG: dict[str, list[str]] = {
    "en": [
        "The council approved the new budget after a long debate about school funding.",
        "We missed the last train home, so we shared a taxi with two strangers.",
        "Heavy rain is expected along the coast tonight, and the harbour will stay closed.",
        "She has been learning to play the piano since she was seven years old.",
        "The museum reopened its east wing with an exhibition of early photographs.",
        "If you water the tomatoes every morning, they will ripen by the end of August.",
        "Our team spent the whole afternoon fixing a bug that only appeared on Fridays.",
        "The bakery on the corner sells the best bread in the neighbourhood.",
        "He forgot his keys at the office and had to wait outside in the cold.",
        "Researchers found that the old bridge needs repairs before the winter storms.",
    ],
    "de": [
        "Der Stadtrat hat nach einer langen Debatte den neuen Haushalt beschlossen.",
        "Wir haben den letzten Zug verpasst und mussten mit dem Taxi nach Hause fahren.",
        "Heute Nacht wird an der Küste starker Regen erwartet, der Hafen bleibt geschlossen.",
        "Sie lernt seit ihrem siebten Lebensjahr Klavier und spielt jeden Abend.",
        "Das Museum zeigt im renovierten Ostflügel eine Ausstellung früher Fotografien.",
        "Wenn du die Tomaten jeden Morgen gießt, sind sie Ende August reif.",
        "Unser Team hat den ganzen Nachmittag nach einem Fehler im Programm gesucht.",
        "Die Bäckerei an der Ecke verkauft das beste Brot in der ganzen Gegend.",
        "Er hatte seine Schlüssel im Büro vergessen und musste draußen in der Kälte warten.",
        "Die Forscher stellten fest, dass die alte Brücke vor dem Winter repariert werden muss.",
    ],
    "fr": [
        "Le conseil municipal a adopté le nouveau budget après un long débat sur les écoles.",
        "Nous avons raté le dernier train et nous avons partagé un taxi avec deux inconnus.",
        "De fortes pluies sont attendues sur la côte cette nuit et le port restera fermé.",
        "Elle apprend le piano depuis l'âge de sept ans et joue tous les soirs.",
        "Le musée a rouvert son aile est avec une exposition de photographies anciennes.",
        "Si tu arroses les tomates chaque matin, elles seront mûres à la fin du mois d'août.",
        "Notre équipe a passé tout l'après-midi à chercher une erreur dans le programme.",
        "La boulangerie du coin vend le meilleur pain de tout le quartier.",
        "Il avait oublié ses clés au bureau et a dû attendre dehors dans le froid.",
        "Les chercheurs ont constaté que le vieux pont doit être réparé avant l'hiver.",
    ],
    "es": [
        "El ayuntamiento aprobó el nuevo presupuesto después de un largo debate sobre las escuelas.",
        "Perdimos el último tren y compartimos un taxi con dos desconocidos.",
        "Se esperan lluvias fuertes en la costa esta noche y el puerto seguirá cerrado.",
        "Ella aprende a tocar el piano desde los siete años y practica todas las tardes.",
        "El museo reabrió su ala este con una exposición de fotografías antiguas.",
        "Si riegas los tomates cada mañana, estarán maduros a finales de agosto.",
        "Nuestro equipo pasó toda la tarde buscando un error en el programa.",
        "La panadería de la esquina vende el mejor pan de todo el barrio.",
        "Se le olvidaron las llaves en la oficina y tuvo que esperar fuera con el frío.",
        "Los investigadores descubrieron que el viejo puente necesita reparaciones antes del invierno.",
    ],
    "pt": [
        "A câmara municipal aprovou o novo orçamento depois de um longo debate sobre as escolas.",
        "Perdemos o último comboio e dividimos um táxi com dois desconhecidos.",
        "Esperam-se chuvas fortes na costa esta noite e o porto vai continuar fechado.",
        "Ela aprende a tocar piano desde os sete anos e pratica todas as noites.",
        "O museu reabriu a ala leste com uma exposição de fotografias antigas.",
        "Se regares os tomates todas as manhãs, eles vão estar maduros no fim de agosto.",
        "A nossa equipa passou a tarde inteira à procura de um erro no programa.",
        "A padaria da esquina vende o melhor pão de todo o bairro.",
        "Ele esqueceu-se das chaves no escritório e teve de esperar lá fora ao frio.",
        "Os investigadores concluíram que a velha ponte precisa de obras antes do inverno.",
    ],
    "nl": [
        "De gemeenteraad keurde na een lang debat over de scholen de nieuwe begroting goed.",
        "We misten de laatste trein en deelden een taxi met twee onbekenden.",
        "Vannacht wordt er zware regen verwacht aan de kust en de haven blijft gesloten.",
        "Ze leert al piano spelen sinds haar zevende en oefent elke avond.",
        "Het museum heeft de oostvleugel heropend met een tentoonstelling van oude foto's.",
        "Als je de tomaten elke ochtend water geeft, zijn ze eind augustus rijp.",
        "Ons team heeft de hele middag gezocht naar een fout in het programma.",
        "De bakker op de hoek verkoopt het lekkerste brood van de hele buurt.",
        "Hij was zijn sleutels op kantoor vergeten en moest buiten in de kou wachten.",
        "De onderzoekers stelden vast dat de oude brug voor de winter gerepareerd moet worden.",
    ],
}

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)

Sample = tuple[str, str, bool]  # text, language, short?


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def samples() -> list[Sample]:
    return [(text, code, True) for code, texts in SHORT.items() for text in texts] + [
        (text, code, False) for code, texts in LONG.items() for text in texts
    ]


def fast_model() -> FastModel:
    model: FastModel = INFERENCE.handle(Role.LANGUAGE_FAST).get()
    return model


def accurate_model() -> AccurateModel:
    model: AccurateModel = INFERENCE.handle(Role.LANGUAGE_ACCURATE).get()
    return model


ASKED: set[object] = set()  # every language the accurate mode was asked about: each one a model load


def fast_answer(text: str) -> Answer:
    ranked = fast_model().scores(text)
    return (ranked[0][0].iso_code_639_1.name.lower(), ranked[0][1]) if ranked else None


def accurate_answer(text: str) -> Answer:
    """The accurate mode among the fast mode's likeliest languages (the fast pass is not timed apart)."""
    choice = candidates(fast_model().scores(text))
    if len(choice) < 2:
        return fast_answer(text)
    ASKED.update(choice)
    answer: Answer = accurate_model().best(text, choice)
    return answer


def load(answer: Callable[[str], Answer], data: list[Sample]) -> float:
    """Load the model and let it see every sentence once (lingua loads languages on first sight)."""
    started = time.perf_counter()
    for text, _, _ in data:
        answer(text)
    return time.perf_counter() - started


def answers(answer: Callable[[str], Answer], data: list[Sample]) -> tuple[list[Answer], float]:
    """Each sentence's answer, and the median seconds per sentence."""
    found, seconds = [], []
    for text, _, _ in data:
        started = time.perf_counter()
        found.append(answer(text))
        seconds.append(time.perf_counter() - started)
    return found, statistics.median(seconds)


def accuracy(found: list[tuple[str, float] | None], data: list[Sample], short: bool | None = None) -> str:
    pairs = [(f, code) for f, (_, code, s) in zip(found, data, strict=True) if short is None or s == short]
    right = sum(1 for f, code in pairs if f is not None and f[0] == code)
    return f"{right}/{len(pairs)} = {right / len(pairs):.3f}"


def main() -> int:
    data = samples()
    threshold = INFERENCE.settings.language_fast_min_confidence
    base = rss_mb()
    fast_load = load(fast_answer, data)
    after_fast = rss_mb()
    accurate_load = load(accurate_answer, data)
    after_accurate = rss_mb()
    print(f"{len(data)} sentences ({sum(s for _, _, s in data)} short), 6 languages; threshold {threshold}")
    print(f"load + first sight of every sentence: fast {fast_load:.2f} s (+{after_fast - base} MB RSS), "
          f"accurate {accurate_load:.2f} s (+{after_accurate - after_fast} MB RSS, "
          f"{len(ASKED)} languages loaded)")  # fmt: skip

    fast, fast_s = answers(fast_answer, data)
    accurate, accurate_s = answers(accurate_answer, data)
    router = INFERENCE.language_router
    routed, routed_seconds = [], []
    for text, _, _ in data:
        started = time.perf_counter()
        routed.append(router.detect(text))
        routed_seconds.append(time.perf_counter() - started)
    escalated = [f is None or f[1] < threshold for f in fast]

    print(f"{'mode':<10} {'short':>16} {'long':>16} {'all':>18} {'escalated':>10} {'ms/sentence (median, mean)':>28}")
    for name, found, median_s, mean_s, share in (
        ("fast", fast, fast_s, None, 0.0),
        ("accurate", accurate, accurate_s, None, 1.0),
        ("routed", routed, statistics.median(routed_seconds), statistics.mean(routed_seconds),
         sum(escalated) / len(data)),
    ):  # fmt: skip
        mean = f", {mean_s * 1000:.3f}" if mean_s is not None else ""
        print(f"{name:<10} {accuracy(found, data, True):>16} {accuracy(found, data, False):>16} "
              f"{accuracy(found, data):>18} {share:>10.3f} {median_s * 1000:>20.3f}{mean}")  # fmt: skip

    print("\nthreshold sweep (routed = fast answer, or accurate answer when fast confidence < threshold)")
    print(f"{'threshold':>9} {'short':>16} {'long':>16} {'all':>18} {'escalated':>10} {'long escalated':>15}")
    for t in THRESHOLDS:
        chosen = [a if f is None or f[1] < t else f for f, a in zip(fast, accurate, strict=True)]
        up = [f is None or f[1] < t for f in fast]
        long_up = sum(u for u, (_, _, s) in zip(up, data, strict=True) if not s)
        print(f"{t:>9} {accuracy(chosen, data, True):>16} {accuracy(chosen, data, False):>16} "
              f"{accuracy(chosen, data):>18} {sum(up) / len(data):>10.3f} {long_up:>15}")  # fmt: skip

    wrong = [(text, code, f, a) for (text, code, _), f, a in zip(data, fast, accurate, strict=True)
             if (f is None or f[0] != code) or (a is None or a[0] != code)]  # fmt: skip
    print("\nsentences either mode got wrong: text | truth | fast (conf) | accurate (conf)")
    for text, code, f, a in wrong:
        print(f"  {text!r} | {code} | {f[0] if f else None} ({f[1] if f else 0:.2f}) | "
              f"{a[0] if a else None} ({a[1] if a else 0:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
