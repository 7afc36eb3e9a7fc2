"""Label masks <-> GeoJSON polygons, in Kaibu's coordinate convention.

A label mask is a single-channel integer image: 0 is background, every other
value is one object. Each object becomes one Feature whose outline follows the
pixel edges exactly (no smoothing), so turning the polygons back into a mask
gives the same pixels: that round trip is what the tests prove, and what keeps
a pre-annotation from drifting by half a pixel or flipping upside down.

Convention (DESIGN.md): the map extent is [0, 0, W, H] with y pointing up, so a
pixel corner at (row, col) is the point x = col, y = H - row. Outer rings come
out counter-clockwise and holes clockwise (the GeoJSON right-hand rule).

Objects that touch only at a corner are traced as separate rings (4-connected),
which keeps every ring simple; an object in several pieces is a MultiPolygon.
"""
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from .imaging import UnsupportedImage

# Edge directions in image coordinates (x = col, y = row, y down).
_RIGHT, _DOWN, _LEFT, _UP = (1, 0), (0, 1), (-1, 0), (0, -1)


def read_label_mask(data: bytes) -> np.ndarray:
    """Decode a PNG/TIFF label mask into a 2-D integer array."""
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage(f"the label mask could not be read ({exc})") from None
    if image.mode == "P":
        # Palette images store the object number as the palette index.
        image = Image.frombytes("L", image.size, image.tobytes())
    mask = np.asarray(image)
    if mask.ndim != 2 or mask.dtype.kind not in "iu":
        raise UnsupportedImage(
            f"a label mask must be one channel of integers, one value per object; got {image.mode!r}")
    return mask


def mask_to_features(mask: np.ndarray, label: str = "cell") -> dict:
    """One GeoJSON Feature per non-zero value of `mask`, with properties label and object_id."""
    if mask.ndim != 2:
        raise UnsupportedImage("a label mask must be 2-D")
    height = mask.shape[0]
    features = []
    for object_id in np.unique(mask):
        if object_id == 0:
            continue
        rows, cols = np.nonzero(mask == object_id)
        r0, c0 = rows.min(), cols.min()
        crop = mask[r0:rows.max() + 1, c0:cols.max() + 1] == object_id
        # Flipping y reverses every ring's turn; reversing the order restores
        # counter-clockwise outer rings and clockwise holes.
        polygons = [[[[int(x + c0), int(height - (y + r0))] for x, y in reversed(ring)]
                     for ring in polygon] for polygon in _polygons(crop)]
        features.append({
            "type": "Feature",
            "geometry": _geometry(polygons),
            "properties": {"label": label, "object_id": int(object_id)},
        })
    return {"type": "FeatureCollection", "features": features}


def features_to_mask(collection: dict, height: int, width: int) -> np.ndarray:
    """Paint feature i (1-based) of a FeatureCollection into a label mask.

    A pixel belongs to a polygon when its centre is inside (even-odd rule over
    the outer ring and its holes). Later features paint over earlier ones.
    """
    mask = np.zeros((height, width), np.int32)
    centres_x = np.arange(width) + 0.5
    for index, feature in enumerate(collection["features"], start=1):
        geometry = feature["geometry"]
        if geometry["type"] == "Polygon":
            polygons = [geometry["coordinates"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["coordinates"]
        else:
            continue
        for polygon in polygons:
            mask[_inside(polygon, height, centres_x)] = index
    return mask


def _inside(polygon: list, height: int, centres_x: np.ndarray) -> np.ndarray:
    inside = np.zeros((height, centres_x.size), bool)
    for row in range(height):
        y = height - row - 0.5
        crossings = []
        for ring in polygon:
            points = np.asarray(ring, float)
            (x1, y1), (x2, y2) = points[:-1].T, points[1:].T
            spans = (y1 > y) != (y2 > y)
            crossings.extend(x1[spans] + (y - y1[spans]) * (x2[spans] - x1[spans]) / (y2[spans] - y1[spans]))
        for start, end in zip(*[iter(sorted(crossings))] * 2):
            inside[row] |= (centres_x > start) & (centres_x < end)
    return inside


def _polygons(crop: np.ndarray) -> list:
    """Polygons (outer ring + holes) of a boolean image, in image coordinates."""
    outers, holes = [], []
    for ring in _rings(crop):
        (outers if _image_area(ring) > 0 else holes).append(ring)
    polygons = [[outer] for outer in outers]
    for hole in holes:
        probe = _outside_probe(hole)
        owner = min((p for p in polygons if _contains(p[0], probe)), key=lambda p: _image_area(p[0]))
        owner.append(hole)
    return polygons


def _rings(crop: np.ndarray) -> list:
    """Closed rings of pixel edges with the object on the right (image coords, y down)."""
    padded = np.pad(crop, 1)
    inner = padded[1:-1, 1:-1]
    outgoing = {}
    # Each boundary edge of an object pixel (row i, col j) between corners; corners are
    # (x, y) of the crop's pixel grid, object on the right-hand side when walking y-down.
    for (di, dj), start, step in (((-1, 0), (0, 0), _RIGHT), ((0, 1), (1, 0), _DOWN),
                                  ((1, 0), (1, 1), _LEFT), ((0, -1), (0, 1), _UP)):
        neighbour = padded[1 + di:padded.shape[0] - 1 + di, 1 + dj:padded.shape[1] - 1 + dj]
        for i, j in zip(*np.nonzero(inner & ~neighbour)):
            outgoing.setdefault((int(j) + start[0], int(i) + start[1]), []).append(step)
    rings = []
    while outgoing:
        # The top-most, left-most corner is a plain convex corner (one way out), so
        # the walk below never starts on a pinch point it would have to pair up.
        corner = min(outgoing, key=lambda c: (c[1], c[0]))
        ring, heading = [corner], None
        while True:
            steps = outgoing[corner]
            # Two ways out only where objects meet at a corner: the right turn hugs
            # the object we are tracing, which keeps the two pieces apart.
            step = steps[0] if len(steps) == 1 or heading is None else \
                next((s for s in steps if s == (-heading[1], heading[0])), steps[0])
            steps.remove(step)
            if not steps:
                del outgoing[corner]
            corner = (corner[0] + step[0], corner[1] + step[1])
            if step != heading:
                ring.append(corner)
            else:
                ring[-1] = corner
            heading = step
            if corner == ring[0]:
                break
        rings.append(ring)
    return rings


def _image_area(ring: list) -> float:
    """Shoelace area in image coordinates: positive for object-on-the-right outer rings."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:])) / 2


def _outside_probe(hole: list) -> tuple:
    """Centre of the background pixel just across the hole's first edge."""
    (x1, y1), (x2, y2) = hole[0], hole[1]
    dx, dy = np.sign(x2 - x1), np.sign(y2 - y1)
    # Object is on the right; left of heading (dx, dy) in y-down coordinates is (dy, -dx).
    return x1 + dx * 0.5 + dy * 0.5, y1 + dy * 0.5 - dx * 0.5


def _contains(ring: list, point: tuple) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _geometry(polygons: list) -> dict:
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}
