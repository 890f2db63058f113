"""Write the bundled sample set into ``samples/`` (about 1 MB), then probe each file as a check.

Run from anywhere: ``.venv/bin/python scripts/make_samples.py``. Needs espeak-ng and scikit-image
(its bundled photos). The sentences and words below are listed in ``docs/samples.md`` so a demo
can search for them; change both together.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mediasift.config import Settings  # noqa: E402
from mediasift.inference.door import Inference  # noqa: E402
from mediasift.ingest.probe import probe_file  # noqa: E402

from support import mediagen as mg  # noqa: E402

SAMPLES = ROOT / "samples"

SIGN_WORDS = "HARBOR LIGHTHOUSE"
VIDEO_SENTENCE = "the orange submarine surfaced near the northern glacier"
AUDIO_SENTENCE = "please remember to water the tomato plants every morning"

LIGHTHOUSES = """\
Lighthouses of the North Atlantic

For more than two centuries, lighthouses guided ships along the rocky coasts of the North Atlantic.
Each tower had its own pattern of flashes, so a navigator who counted the seconds between beams
could tell exactly which headland lay ahead, even on a moonless night.

The keepers lived beside the lamp with their families. They trimmed wicks, polished the great
Fresnel lenses and wound the clockwork that turned them every few hours. In winter storms the
spray reached the lantern room, and supply boats could not land for weeks at a time.

Electric lamps arrived at the start of the twentieth century, and automation followed. By the
nineteen nineties the last keepers had left, replaced by sensors, solar panels and a radio link.
Many towers are now museums, and a few rent their cottages to visitors who want to watch the beam
sweep across the water.
"""

BEES = """\
Die Honigbiene im Jahreslauf

Im Frühling sammeln die Arbeiterinnen Nektar und Pollen von Obstbäumen, Löwenzahn und Raps. Die
Königin legt dann bis zu zweitausend Eier am Tag, und das Volk wächst schnell auf über vierzigtausend
Bienen.

Im Sommer schwärmt ein Teil des Volkes mit der alten Königin aus, um eine neue Wohnung zu suchen.
Imkerinnen und Imker fangen den Schwarm oft in einer Kiste ein und setzen ihn in eine leere Beute.

Im Herbst werden die Drohnen aus dem Stock vertrieben. Über den Winter bilden die Bienen eine dichte
Traube, zittern mit ihren Flugmuskeln und halten so die Königin in der Mitte warm.
"""


def make_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    speech = mg.make_speech_wav(out / "tomato_reminder.wav", AUDIO_SENTENCE, words_per_minute=140)
    voiceover = mg.make_speech_wav(out / ".voiceover.wav", VIDEO_SENTENCE, words_per_minute=130)
    try:
        video = mg.make_video(
            out / "submarine_scenes.mp4",
            7.0,
            size=(480, 272),
            audio_wav=voiceover,
            scenes=[mg.photo("rocket"), mg.photo("coffee"), mg.photo("chelsea"), mg.photo("astronaut")],
            scene_seconds=1.75,
        )
    finally:
        voiceover.unlink()
    return [
        mg.make_text_image(out / "harbor_sign.png", SIGN_WORDS, (560, 315), mg.photo("rocket")),
        mg.make_jpeg_with_exif(
            out / "cat_photo.jpg",
            "Canon",
            "EOS 5D Mark IV",
            datetime(2023, 7, 14, 9, 30, 5),
            gps=(59.3293, 18.0686, 28.0),
            base=mg.photo("chelsea"),
        ),
        video,
        speech,
        mg.make_text_file(out / "lighthouses.txt", LIGHTHOUSES, "utf-8"),
        mg.make_text_file(out / "honigbienen_utf16.txt", BEES, "utf-16-le", bom=True),
    ]


def main() -> None:
    settings = Settings()
    language_of = Inference(settings).language
    total = 0
    for path in make_all(SAMPLES):
        result = probe_file(path, settings, language_of)
        total += path.stat().st_size
        print(f"{path.name:28} {path.stat().st_size:>8} B  {result.mime:12} {result.metadata}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
