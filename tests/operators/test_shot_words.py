"""Words go to the shot they were spoken in."""

from __future__ import annotations

from mediasift.operators.shot_words import assign_words


def test_each_word_goes_to_the_shot_holding_its_middle() -> None:
    shots = [("a", 0.0, 2.0), ("b", 2.0, 5.0), ("c", 5.0, 6.0)]
    words = [
        {"word": "one", "start": 0.1, "end": 0.5},
        {"word": "across", "start": 1.8, "end": 2.4},  # middle 2.1: shot b
        {"word": "two", "start": 4.9, "end": 5.3},  # middle 5.1: shot c
        {"word": "late", "start": 6.0, "end": 6.4},  # after the last shot ends: the last shot
    ]
    assigned = assign_words(shots, words)
    assert {k: [w["word"] for w in v] for k, v in assigned.items()} == {
        "a": ["one"],
        "b": ["across"],
        "c": ["two", "late"],
    }
