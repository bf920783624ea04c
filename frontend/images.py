"""Sample images of a data set as one PNG contact sheet (a row per class), drawn with Pillow."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 40  # display pixels per sample (nearest-neighbour upscaling keeps small images crisp)
GAP = 4
LABEL = 90  # width of the class-name column


def contact_sheet(rows: list[tuple[str, list[np.ndarray]]]) -> bytes:
    """rows: (class name, [uint8 C x H x W images]) -> PNG bytes, classes top to bottom."""
    columns = max((len(images) for _, images in rows), default=1) or 1
    sheet = Image.new("RGB", (LABEL + columns * (CELL + GAP) + GAP, max(len(rows), 1) * (CELL + GAP) + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for r, (name, images) in enumerate(rows):
        top = GAP + r * (CELL + GAP)
        label = name if len(name) <= 11 else name[:10] + "…"
        draw.text((LABEL - 8, top + CELL / 2), label, fill=(29, 36, 51), font=font, anchor="rm")
        for c, image in enumerate(images):
            sheet.paste(_to_pil(image).resize((CELL, CELL), Image.NEAREST), (LABEL + GAP + c * (CELL + GAP), top))
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _to_pil(image: np.ndarray) -> Image.Image:
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array).convert("RGB")
