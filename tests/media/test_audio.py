"""Decoded sound keeps its times: packets missing from a file or too damaged to decode leave silence
where they were, so what is heard after them (and its transcript) is at the time it is played."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from mediasift.media.audio import GAP_FILLED_S, decode_audio

from support import mediagen

RATE = 44100
BEEPS = (1.0, 3.0, 5.0)  # seconds: a 0.2 s tone at each, silence between


def _beeps(path: Path) -> Path:
    t = np.arange(6 * RATE) / RATE
    wave = np.zeros_like(t)
    for start in BEEPS:
        on = (t >= start) & (t < start + 0.2)
        wave[on] = 0.5 * np.sin(2 * np.pi * 880 * t[on])
    return mediagen.write_audio(path, wave[np.newaxis].astype(np.float32), RATE)


def _with_packets(source: Path, target: Path, start: float, end: float, *, garbage: bool) -> Path:
    """``source`` (AAC) stored again, its packets from ``start`` to ``end`` s left out, or their bytes
    replaced with noise, at their own times."""
    noise = np.random.default_rng(3)
    with av.open(str(source)) as inp, av.open(str(target), "w", format="mp4") as out:
        sound = inp.streams.audio[0]
        copy = out.add_stream_from_template(sound)
        for packet in inp.demux(sound):
            if packet.size == 0:
                continue
            inside = packet.pts is not None and start <= float(packet.pts * packet.time_base) < end
            if inside and not garbage:
                continue
            if inside:
                damaged = av.Packet(noise.integers(0, 256, packet.size, np.uint8).tobytes())
                damaged.pts, damaged.dts, damaged.time_base = packet.pts, packet.dts, packet.time_base
                packet = damaged
            packet.stream = copy
            out.mux(packet)
    return target


def _onsets(samples: np.ndarray, rate: int = 16000) -> list[float]:
    """Where each beep starts, in seconds (10 ms windows louder than a tenth of the loudest)."""
    window = rate // 100
    loud = np.abs(samples[: samples.size // window * window]).reshape(-1, window).max(axis=1) > 0.05
    return [round(i * window / rate, 2) for i in np.flatnonzero(loud[1:] & ~loud[:-1]) + 1]


@pytest.fixture(scope="module")
def beeps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("beeps")
    return _beeps(folder / "beeps.m4a")


def test_every_beep_is_heard_at_its_time(beeps: Path) -> None:
    assert _onsets(decode_audio(beeps)) == pytest.approx(BEEPS, abs=0.03)


@pytest.mark.parametrize("garbage", [False, True], ids=["packets missing", "packets that do not decode"])
def test_after_lost_packets_the_sound_is_at_its_own_time(beeps: Path, tmp_path: Path, garbage: bool) -> None:
    damaged = _with_packets(beeps, tmp_path / "damaged.m4a", 2.0, 2.5, garbage=garbage)
    samples = decode_audio(damaged)
    assert _onsets(samples) == pytest.approx(BEEPS, abs=0.03), "the beeps after the gap are not moved earlier"
    assert samples.size / 16000 == pytest.approx(6.0, abs=0.05)
    assert np.abs(samples[round(2.05 * 16000) : round(2.45 * 16000)]).max() < 0.05, "silence where they were"


def test_a_gap_no_longer_than_the_filled_one_is_left_as_it_is(beeps: Path, tmp_path: Path) -> None:
    """One AAC frame (23 ms) missing is below ``GAP_FILLED_S``: not filled, the later beeps 23 ms early;
    three missing (70 ms) are past it and filled."""
    frame_s = 1024 / RATE
    assert frame_s < GAP_FILLED_S < 3 * frame_s
    one = _onsets(decode_audio(_with_packets(beeps, tmp_path / "one.m4a", 2.0, 2.0 + frame_s, garbage=False)))
    three = _onsets(decode_audio(_with_packets(beeps, tmp_path / "three.m4a", 2.0, 2.0 + 3 * frame_s, garbage=False)))
    assert one[1:] == pytest.approx([3.0 - frame_s, 5.0 - frame_s], abs=0.011)
    assert three == pytest.approx(BEEPS, abs=0.011)
