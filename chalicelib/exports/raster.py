"""Annotations as pixels: instance and semantic masks, COCO segmentations.

Convention (README, DESIGN.md): features are in Kaibu's map coordinates, x = column and
y = H - row, where (x, y) are pixel *corners*; a pixel belongs to an object when its centre is
inside (even-odd rule, so holes fall out). Outlines that follow pixel edges (masks.py's output)
give back exactly their pixels, and COCO polygons are the same outlines in image-row
coordinates (x, H - y), which pycocotools rasterises to the same pixels.

Not Pillow's ImageDraw.polygon: it floors every vertex and fills the boundary inclusively, so a
pixel-edge outline grows by one row and one column on its right and bottom sides (measured with
Pillow 13: the square with corners 1 and 3 fills 3 x 3 pixels, not 2 x 2) - the half-pixel
drift this module exists to prevent. The scanline below is numpy only, one pass for all
shapes of an annotation.

Only Polygon and MultiPolygon are areas; Points and LineStrings are counted, never drawn.
Object k of the instance mask is feature k of the collection (1-based): a gap means a feature
that is not an area.
"""
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

AREAS = ("Polygon", "MultiPolygon")


@dataclass
class Raster:
    instances: np.ndarray                       # uint16, 0 = background, k = feature k
    semantic: np.ndarray | None                 # uint8 label index, when asked for
    not_drawn: dict = field(default_factory=dict)   # geometry type -> count


def polygons(geometry: dict) -> list:
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]


def _edges(features: list[tuple[int, dict]], height: int) -> np.ndarray:
    """Every ring edge of every area feature as (k, col1, row1, col2, row2), image corner
    coordinates; horizontal edges dropped (they cross no scanline)."""
    out = []
    for k, geometry in features:
        for polygon in polygons(geometry):
            for ring in polygon:
                points = np.asarray([p[:2] for p in ring], float)
                points[:, 1] = height - points[:, 1]
                out.append(np.hstack([np.full((len(points) - 1, 1), k), points[:-1], points[1:]]))
    edges = np.vstack(out) if out else np.empty((0, 5))
    if not np.isfinite(edges).all():
        raise ValueError("coordinates must be finite numbers")
    return edges[edges[:, 2] != edges[:, 4]]


def _spans(edges: np.ndarray, height: int, width: int):
    """Runs of pixels inside each feature, scanline by scanline (even-odd rule at pixel
    centres), for all features at once: (feature, row, first column, last column)."""
    k, x1, y1, x2, y2 = edges.T
    low, high = np.minimum(y1, y2), np.maximum(y1, y2)
    # Scanline r (centre r + 0.5) crosses an edge when low < r + 0.5 <= high: half-open, so a
    # vertex on a scanline counts once (the same rule as masks.features_to_mask, y flipped).
    first = np.maximum(np.floor(low - 0.5) + 1, 0).astype(np.int64)
    last = np.minimum(np.floor(high - 0.5), height - 1).astype(np.int64)
    count = np.maximum(last - first + 1, 0)
    edge = np.repeat(np.arange(len(edges)), count)
    rows = first[edge] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    xs = x1[edge] + (rows + 0.5 - y1[edge]) * (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
    order = np.lexsort((xs, rows, k[edge]))
    # Each (feature, row) has an even number of crossings: consecutive pairs are the runs.
    xs, rows, feature = xs[order], rows[order], k[edge][order]
    start, end = xs[0::2], xs[1::2]
    # A pixel is inside when its centre c + 0.5 is strictly inside a run (start, end).
    c0 = np.maximum(np.floor(start - 0.5) + 1, 0).astype(np.int64)
    c1 = np.minimum(np.ceil(end - 0.5) - 1, width - 1).astype(np.int64)
    keep = c1 >= c0
    return feature[0::2][keep].astype(np.int64), rows[0::2][keep], c0[keep], c1[keep]


def rasterise(collection: dict, height: int, width: int, label_index: dict | None = None) -> Raster:
    """Paint feature k (1-based) with k; later features cover earlier ones where they overlap.
    With label_index (label -> 1..255) also a semantic mask."""
    features = collection["features"]
    if len(features) > 65535:
        raise ValueError("more than 65,535 features do not fit a 16-bit instance mask")
    areas, not_drawn = [], {}
    for k, feature in enumerate(features, start=1):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") in AREAS:
            areas.append((k, geometry))
        else:
            kind = geometry.get("type", "none")
            not_drawn[kind] = not_drawn.get(kind, 0) + 1
    flat = np.zeros(height * width, np.uint16)
    if areas:
        feature, rows, c0, c1 = _spans(_edges(areas, height), height, width)
        length = c1 - c0 + 1
        run = np.repeat(np.arange(len(length)), length)
        cols = c0[run] + np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        # The highest feature number wins where shapes overlap: the one drawn last.
        np.maximum.at(flat, rows[run] * width + cols, feature[run].astype(np.uint16))
    instances = flat.reshape(height, width)
    semantic = None
    if label_index is not None:
        labels = np.zeros(len(features) + 1, np.uint8)
        for k, feature in enumerate(features, start=1):
            labels[k] = label_index.get((feature.get("properties") or {}).get("label"), 0)
        semantic = labels[instances]
    return Raster(instances, semantic, not_drawn)


def png(array: np.ndarray) -> bytes:
    """A lossless greyscale PNG of a 2-D uint8 or uint16 array.

    Written directly (filter 0 on every row, zlib level 1): masks are mostly runs of equal
    values, and Pillow's encoder spent 3x longer per mask trying its row filters (measured on
    the export benchmark's 512 x 512 masks). Pillow reads these files back (tested)."""
    height, width = array.shape
    depth = 16 if array.dtype == np.uint16 else 8
    rows = np.ascontiguousarray(array, dtype=">u2" if depth == 16 else np.uint8)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows.view(np.uint8).reshape(height, -1)])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
            chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


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
    xs = [pt[0] for p in polygons(geometry) for pt in p[0]]
    ys = [pt[1] for p in polygons(geometry) for pt in p[0]]
    return [float(min(xs)), float(height - max(ys)), float(max(xs) - min(xs)),
            float(max(ys) - min(ys))]
