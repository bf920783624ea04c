"""Write ``shapes-32.npz``: ten classes of drawn shapes, a data set nothing in the hub was tuned on.

Every image is a 32 x 32 grey shape of random size, position, rotation, stroke, brightness, background
and noise, drawn with Pillow from a seeded generator (same seed, same file). The hub reads it like any
upload (``x`` uint8 N x H x W, ``y`` int, ``class_names``); ``bench/decompose.py --data`` takes the path.

    python bench/make_shapes.py var/bench/shapes-32.npz --per-class 300
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE, CANVAS = 32, 128  # drawn at 4x and reduced, for smooth edges
CLASSES = ("circle", "ring", "square", "frame", "triangle", "cross", "x", "bar", "ellipse", "star")


def _rotated(points, angle: float, cx: float, cy: float):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in points]


def _polygon(cx, cy, r, sides, angle, star=False):
    count = sides * 2 if star else sides
    points = []
    for i in range(count):
        radius = r * (0.45 if star and i % 2 else 1.0)
        a = angle + 2 * math.pi * i / count
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return points


def draw(shape: str, rng: np.random.Generator) -> np.ndarray:
    background = int(rng.integers(0, 70))
    ink = int(rng.integers(150, 256))
    image = Image.new("L", (CANVAS, CANVAS), background)
    pen = ImageDraw.Draw(image)
    r = rng.uniform(22, 46)
    cx, cy = rng.uniform(r + 4, CANVAS - r - 4, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    width = int(rng.integers(8, 16))
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        pen.ellipse(box, fill=ink)
    elif shape == "ring":
        pen.ellipse(box, outline=ink, width=width)
    elif shape in ("square", "frame"):
        corners = _rotated([(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)], angle, cx, cy)
        if shape == "square":
            pen.polygon(corners, fill=ink)
        else:
            pen.line([*corners, corners[0]], fill=ink, width=width, joint="curve")
    elif shape == "triangle":
        pen.polygon(_polygon(cx, cy, r, 3, angle), fill=ink)
    elif shape == "star":
        pen.polygon(_polygon(cx, cy, r, 5, angle, star=True), fill=ink)
    elif shape == "ellipse":
        squeeze = rng.uniform(0.35, 0.6)
        points = [(cx + r * math.cos(t), cy + squeeze * r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 60)]
        pen.polygon(_rotated(points, angle, cx, cy), fill=ink)
    else:  # strokes through the centre: cross (+), x, bar
        turns = {"cross": (0.0, math.pi / 2), "x": (math.pi / 4, 3 * math.pi / 4), "bar": (0.0,)}[shape]
        for turn in turns:
            a = angle + turn if shape == "bar" else turn + rng.uniform(-0.2, 0.2)
            dx, dy = r * math.cos(a), r * math.sin(a)
            pen.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=ink, width=width)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2))).resize((SIZE, SIZE), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(2, 14), (SIZE, SIZE))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def make(per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    rng.shuffle(labels)
    images = np.stack([draw(CLASSES[label], rng) for label in labels])
    return {"x": images, "y": labels.astype(np.int64), "class_names": np.array(CLASSES)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **make(args.per_class, args.seed))
    print(f"{args.out}: {args.per_class * len(CLASSES)} images of {len(CLASSES)} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
