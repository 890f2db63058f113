"""Procedural scenes for test videos: pictures drawn from a seed, none of them a photo that
``eval/shotset.py`` (the set the shot detector was tuned on) films.

A scene is an RGB canvas drawn with numpy, OpenCV and Pillow: a landscape, a city at dusk, a room,
a field of foliage or cloud, a still life, a slide of text, a blurred background with a figure. Two
real photos that the tuning set does not use are here too: the left and right views of scikit-image's
stereo motorcycle pair, which are two views of one scene (the kind of cut a colour histogram hardly
sees). :func:`grade` colours a picture as another camera or a colourist would.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw

from support import mediagen

KINDS = ("landscape", "city", "room", "foliage", "still_life", "slide", "figure")
STEREO = ("motorcycle_left", "motorcycle_right")


def is_scene(name: str) -> bool:
    return name.startswith("scene:") or name in STEREO


def scene(name: str, size: tuple[int, int], seed: int) -> np.ndarray:
    """``name`` is "scene:KIND" (one of KINDS, drawn from ``seed``) or one of STEREO; ``size`` is
    (width, height) of the canvas wanted."""
    if name in STEREO:
        from skimage import data

        return cover(np.asarray(data.stereo_motorcycle()[STEREO.index(name)]), size)
    kind = name.removeprefix("scene:")
    draw = {
        "landscape": _landscape,
        "city": _city,
        "room": _room,
        "foliage": _foliage,
        "still_life": _still_life,
        "slide": _slide,
        "figure": _figure,
    }[kind]
    # drawn at a fixed working size from the seed alone, then scaled: a scene looks the same at any size
    work = (960, round(960 * size[1] / size[0]))
    image = draw(work, np.random.default_rng(seed))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def grade(image: np.ndarray, gains: tuple[float, float, float], gamma: float = 1.0) -> np.ndarray:
    """Per-channel gains (white balance, exposure) and a gamma (contrast) applied to an RGB picture."""
    levels = (np.arange(256, dtype=np.float64) / 255.0) ** gamma
    table = np.stack([np.clip(levels * gain, 0, 1) * 255 for gain in gains], axis=-1).round().astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(image), table[None, :, :])


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover ``size`` and crop the middle, keeping the aspect ratio."""
    width, height = size
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (math.ceil(image.shape[1] * scale), math.ceil(image.shape[0] * scale)))
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def fractal(shape: tuple[int, int], rng: np.random.Generator, beta: float = 2.0) -> np.ndarray:
    """Noise with a 1/f^beta power spectrum (clouds, foliage, terrain), scaled to 0-1."""
    height, width = shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius ** (beta / 2)
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=(height, width))
    field -= field.min()
    return field / max(1e-9, float(field.max()))


def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> np.ndarray:
    hsv = np.array(
        [[[rng.uniform(0, 180), min(255, rng.uniform(*s) * 255), min(255, rng.uniform(*v) * 255)]]], np.uint8
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _vertical(top: np.ndarray, bottom: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()


def _palette(field: np.ndarray, colours: list[np.ndarray]) -> np.ndarray:
    stops = np.linspace(0, 1, len(colours))
    out = np.empty((*field.shape, 3), np.float32)
    for channel in range(3):
        out[..., channel] = np.interp(field, stops, [c[channel] for c in colours])
    return out


def _finish(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).round().astype(np.uint8)


def _landscape(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    sky = _vertical(_hsv(rng, (0.3, 0.8), (0.5, 0.9)), _hsv(rng, (0.1, 0.4), (0.8, 1.0)), size)
    clouds = fractal((height, width), rng, 3.0)
    sky += (clouds[..., None] - 0.5) * 70
    sx, sy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.4) * height
    ys, xs = np.mgrid[0:height, 0:width]
    glow = np.exp(-((xs - sx) ** 2 + (ys - sy) ** 2) / (2 * (0.08 * width) ** 2))
    sky += glow[..., None] * np.array([255, 230, 180], np.float32) * 0.8
    image = sky
    base = _hsv(rng, (0.3, 0.8), (0.2, 0.6))
    for layer in range(3):
        profile = fractal((1, width), rng, 2.5)[0]
        horizon = height * (0.45 + 0.15 * layer) + (profile - 0.5) * height * (0.35 - 0.08 * layer)
        haze = 0.55 - 0.2 * layer
        colour = base * (1 - haze) + image[int(height * 0.4), width // 2] * haze
        texture = fractal((height, width), rng, 1.6)[..., None]
        ground = colour * (0.75 + 0.5 * texture)
        mask = (ys >= horizon[None, :])[..., None]
        image = np.where(mask, ground, image)
    return _finish(image)


def _city(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    image = _vertical(_hsv(rng, (0.4, 0.9), (0.1, 0.4)), _hsv(rng, (0.4, 0.9), (0.5, 0.9)), size)
    canvas = Image.fromarray(_finish(image))
    draw = ImageDraw.Draw(canvas)
    for depth in range(3):
        x = int(rng.integers(-40, 0))
        shade = 25 + 30 * (2 - depth)
        while x < width:
            w = int(rng.integers(40, 140))
            top = int(height * rng.uniform(0.15 + 0.15 * depth, 0.6 + 0.1 * depth))
            tint = rng.integers(-12, 12, 3)
            draw.rectangle((x, top, x + w, height), fill=tuple(int(v) for v in np.clip(shade + tint, 0, 255)))
            if depth == 2:
                for wy in range(top + 10, height - 10, 18):
                    for wx in range(x + 6, x + w - 10, 14):
                        if rng.random() < 0.45:
                            lit = tuple(int(v) for v in rng.integers([200, 160, 60], [256, 230, 140]))
                            draw.rectangle((wx, wy, wx + 7, wy + 10), fill=lit)
            x += w + int(rng.integers(0, 20))
    return np.asarray(canvas)


def _room(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    wall = _hsv(rng, (0.1, 0.5), (0.5, 0.9))
    floor = _hsv(rng, (0.2, 0.6), (0.2, 0.5))
    horizon = int(height * rng.uniform(0.55, 0.7))
    image = np.empty((height, width, 3), np.float32)
    image[:horizon] = wall
    grain = fractal((height - horizon, width), rng, 1.2)[..., None]
    image[horizon:] = floor * (0.8 + 0.4 * grain)
    canvas = Image.fromarray(_finish(image))
    draw = ImageDraw.Draw(canvas)
    wx, ww = int(rng.uniform(0.05, 0.55) * width), int(rng.uniform(0.2, 0.35) * width)
    draw.rectangle((wx, int(height * 0.12), wx + ww, int(height * 0.5)), fill=(225, 235, 250), outline=(70, 60, 50),
                   width=8)  # fmt: skip
    draw.line((wx + ww // 2, int(height * 0.12), wx + ww // 2, int(height * 0.5)), fill=(70, 60, 50), width=6)
    for _ in range(int(rng.integers(1, 4))):
        fx = int(rng.uniform(0, 0.85) * width)
        fy = int(rng.uniform(0.1, 0.35) * height)
        colour = tuple(int(v) for v in _hsv(rng, (0.3, 0.9), (0.3, 0.9)))
        draw.rectangle((fx, fy, fx + 70, fy + 50), fill=colour, outline=(40, 30, 20), width=5)
    tx = int(rng.uniform(0.1, 0.6) * width)
    draw.rectangle((tx, horizon - 40, tx + int(width * 0.3), horizon - 25), fill=(90, 55, 30))
    for leg in (tx + 10, tx + int(width * 0.3) - 20):
        draw.rectangle((leg, horizon - 25, leg + 10, horizon + 40), fill=(70, 45, 25))
    lit = np.asarray(canvas, np.float32)
    ys, xs = np.mgrid[0:height, 0:width]
    light = 0.6 + 0.5 * np.exp(-((xs - wx - ww / 2) ** 2) / (2 * (0.4 * width) ** 2) - (ys / height) ** 2)
    return _finish(lit * light[..., None])


def _foliage(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    field = fractal((height, width), rng, float(rng.uniform(1.4, 2.6)))
    colours = [_hsv(rng, (0.3, 1.0), (0.05 + 0.25 * i, 0.25 + 0.25 * i)) for i in range(4)]
    return _finish(_palette(field, colours))


def _still_life(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    back = _palette(fractal((height, width), rng, 2.2), [_hsv(rng, (0.2, 0.6), (0.2, 0.5)) for _ in range(2)])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = back
    for _ in range(int(rng.integers(4, 9))):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.35, 0.9) * height
        rx, ry = rng.uniform(0.05, 0.14) * width, rng.uniform(0.06, 0.16) * height
        d = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
        shadow = np.exp(-(((xs - cx - rx * 0.5) / rx) ** 2 + ((ys - cy - ry * 0.8) / (ry * 0.5)) ** 2))
        image = image * (1 - 0.5 * shadow[..., None])
        colour = _hsv(rng, (0.5, 1.0), (0.5, 1.0))
        shade = np.clip(1.1 - 0.6 * np.sqrt(np.clip(d, 0, 1)), 0, 1.2)
        highlight = np.exp(-(((xs - cx + rx * 0.35) / (rx * 0.2)) ** 2 + ((ys - cy + ry * 0.35) / (ry * 0.2)) ** 2))
        body = colour * shade[..., None] + highlight[..., None] * 150
        image = np.where((d <= 1)[..., None], body, image)
    return _finish(image)


def _slide(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    back = tuple(int(v) for v in _hsv(rng, (0.0, 0.25), (0.85, 1.0)))
    canvas = Image.new("RGB", size, back)
    draw = ImageDraw.Draw(canvas)
    bar = tuple(int(v) for v in _hsv(rng, (0.5, 0.9), (0.3, 0.7)))
    draw.rectangle((0, 0, width, int(height * 0.18)), fill=bar)
    words = ["shot", "boundary", "evidence", "frame", "signal", "harbour", "north", "glacier", "lantern", "river"]
    draw.text((30, int(height * 0.09)), " ".join(rng.choice(words, 3)).title(), fill=(255, 255, 255),
              font=mediagen.font(44), anchor="lm")  # fmt: skip
    y = int(height * 0.28)
    while y < height - 50:
        draw.text((60, y), "- " + " ".join(rng.choice(words, int(rng.integers(3, 7)))), fill=(30, 30, 40),
                  font=mediagen.font(30, bold=False))  # fmt: skip
        y += int(rng.integers(48, 70))
    return np.asarray(canvas)


def _figure(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    back = np.zeros((height, width, 3), np.float32)
    back[:] = _hsv(rng, (0.2, 0.6), (0.2, 0.5))
    for _ in range(60):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        cv2.circle(back, centre, int(rng.uniform(10, 60)), _hsv(rng, (0.2, 0.8), (0.4, 1.0)).tolist(), -1)
    image = cv2.GaussianBlur(back, (0, 0), 18)
    cx = rng.uniform(0.3, 0.7) * width
    skin = _hsv(rng, (0.25, 0.55), (0.45, 0.9))
    coat = _hsv(rng, (0.3, 0.9), (0.15, 0.6))
    cv2.ellipse(image, (int(cx), int(height * 0.95)), (int(width * 0.2), int(height * 0.45)), 0, 180, 360,
                coat.tolist(), -1)  # fmt: skip
    cv2.ellipse(image, (int(cx), int(height * 0.38)), (int(width * 0.07), int(height * 0.15)), 0, 0, 360,
                skin.tolist(), -1)  # fmt: skip
    cv2.ellipse(image, (int(cx), int(height * 0.28)), (int(width * 0.075), int(height * 0.07)), 0, 180, 360,
                (skin * 0.3).tolist(), -1)  # fmt: skip
    return _finish(image)
