"""Annotations as pixels: instance and semantic masks, COCO segmentations.

Convention (README, DESIGN.md): features are in Kaibu's map coordinates, x = column and
y = H - row, where (x, y) are pixel *corners*; a pixel belongs to an object when its centre is
inside (even-odd rule, so holes fall out). Outlines that follow pixel edges (masks.py's output)
give back exactly their pixels, and COCO polygons are the same outlines in image-row
coordinates (x, H - y), which pycocotools rasterises to the same pixels.

Not Pillow's ImageDraw.polygon: it floors every vertex and fills the boundary inclusively, so a
pixel-edge outline grows by one row and one column on its right and bottom sides (measured with
Pillow 13: the square with corners 1 and 3 fills 3 x 3 pixels, not 2 x 2) - the half-pixel
drift this module exists to prevent. The scanline below is numpy only, vectorised per object.

Only Polygon and MultiPolygon are areas; Points and LineStrings are counted, never drawn.
Object k of the instance mask is feature k of the collection (1-based): a gap means a feature
that is not an area.
"""
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

AREAS = ("Polygon", "MultiPolygon")


@dataclass
class Raster:
    instances: np.ndarray                       # uint16, 0 = background, k = feature k
    semantic: np.ndarray | None                 # uint8 label index, when asked for
    not_drawn: dict = field(default_factory=dict)   # geometry type -> count


def polygons(geometry: dict) -> list:
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]


def _edges(geometry: dict, height: int) -> np.ndarray:
    """Every ring edge as (col1, row1, col2, row2) in image corner coordinates."""
    out = []
    for polygon in polygons(geometry):
        for ring in polygon:
            points = np.asarray([p[:2] for p in ring], float)
            points[:, 1] = height - points[:, 1]
            out.append(np.hstack([points[:-1], points[1:]]))
    return np.vstack(out)


def pixels(geometry: dict, height: int, width: int):
    """(rows, cols) of the pixels whose centre is inside the (Multi)Polygon."""
    edges = _edges(geometry, height)
    edges = edges[edges[:, 1] != edges[:, 3]]            # horizontal edges cross no scanline
    if not len(edges) or not np.isfinite(edges).all():
        return np.empty(0, int), np.empty(0, int)
    r0 = max(0, int(np.floor(edges[:, [1, 3]].min())))
    r1 = min(height, int(np.ceil(edges[:, [1, 3]].max())))
    c0 = max(0, int(np.floor(edges[:, [0, 2]].min())))
    c1 = min(width, int(np.ceil(edges[:, [0, 2]].max())))
    if r0 >= r1 or c0 >= c1:
        return np.empty(0, int), np.empty(0, int)
    centres_y = np.arange(r0, r1) + 0.5
    x1, y1, x2, y2 = edges.T
    row, edge = np.nonzero((y1 > centres_y[:, None]) != (y2 > centres_y[:, None]))
    xs = x1[edge] + (centres_y[row] - y1[edge]) * (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
    # Count, for each pixel centre, the crossings left of it on its scanline: one sorted key
    # per crossing (row, x) and a binary search per centre. Odd = inside.
    span = c1 - c0 + 2
    keys = np.sort(row * span + np.clip(xs - c0, -0.5, span - 2))
    centres = np.arange(r1 - r0)[:, None] * span + (np.arange(c1 - c0) + 0.5)[None, :]
    row_start = np.searchsorted(keys, np.arange(r1 - r0) * span - 1)
    inside = (np.searchsorted(keys, centres) - row_start[:, None]) % 2 == 1
    rows, cols = np.nonzero(inside)
    return rows + r0, cols + c0


def rasterise(collection: dict, height: int, width: int, label_index: dict | None = None) -> Raster:
    """Paint feature k (1-based) with k; later features cover earlier ones where they overlap.
    With label_index (label -> 1..255) also a semantic mask."""
    if len(collection["features"]) > 65535:
        raise ValueError("more than 65,535 features do not fit a 16-bit instance mask")
    instances = np.zeros((height, width), np.uint16)
    semantic = np.zeros((height, width), np.uint8) if label_index is not None else None
    not_drawn: dict[str, int] = {}
    for k, feature in enumerate(collection["features"], start=1):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") not in AREAS:
            kind = geometry.get("type", "none")
            not_drawn[kind] = not_drawn.get(kind, 0) + 1
            continue
        rows, cols = pixels(geometry, height, width)
        instances[rows, cols] = k
        if semantic is not None:
            semantic[rows, cols] = label_index.get((feature.get("properties") or {}).get("label"), 0)
    return Raster(instances, semantic, not_drawn)


def png(array: np.ndarray) -> bytes:
    """A lossless PNG of a 2-D uint8 or uint16 array (16-bit grey for uint16)."""
    image = Image.fromarray(array)  # uint16 -> "I;16", uint8 -> "L"
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def coco_segmentation(geometry: dict, height: int, instances: np.ndarray, k: int):
    """Polygons in image-row coordinates; an uncompressed RLE when the shape has holes (COCO
    polygons cannot carry holes), taken from the object's pixels in `instances`."""
    parts = polygons(geometry)
    if all(len(p) == 1 for p in parts):
        return [[c for x, y in (pt[:2] for pt in p[0][:-1]) for c in (x, height - y)]
                for p in parts]
    column_major = (instances == k).T.ravel()
    change = np.flatnonzero(np.diff(column_major.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [column_major.size]])
    counts = np.diff(bounds).tolist()
    if column_major[0]:
        counts.insert(0, 0)  # RLE counts start with a run of background
    return {"counts": counts, "size": [int(instances.shape[0]), int(instances.shape[1])]}


def bbox(geometry: dict, height: int) -> list[float]:
    """[x, y, width, height] in image-row coordinates, from the outer rings."""
    points = np.asarray([pt[:2] for p in polygons(geometry) for pt in p[0]], float)
    x0, x1 = points[:, 0].min(), points[:, 0].max()
    y0, y1 = height - points[:, 1].max(), height - points[:, 1].min()
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
