"""Label masks to Kaibu-convention polygons and back, pixel for pixel."""
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from chalicelib.ingest.imaging import UnsupportedImage
from chalicelib.ingest.masks import features_to_mask, mask_to_features, read_label_mask


def _signed_area(ring):
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:])) / 2


def test_one_pixel_object_in_kaibu_coordinates():
    mask = np.zeros((10, 20), np.uint8)
    mask[2, 5] = 1  # row 2, column 5
    [feature] = mask_to_features(mask)["features"]
    ring = feature["geometry"]["coordinates"][0]
    # x = column, y = H - row: the pixel spans x 5..6 and y 7..8 (10 - 3 .. 10 - 2).
    assert sorted(map(tuple, ring[:-1])) == [(5, 7), (5, 8), (6, 7), (6, 8)]
    assert ring[0] == ring[-1]
    assert _signed_area(ring) > 0  # counter-clockwise outer ring (RFC 7946)
    assert feature["properties"] == {"label": "cell", "object_id": 1}


def test_object_near_the_top_is_near_the_top_of_the_map():
    mask = np.zeros((100, 100), np.uint8)
    mask[0:10, 0:10] = 3
    [feature] = mask_to_features(mask, label="nucleus")["features"]
    ys = [y for _, y in feature["geometry"]["coordinates"][0]]
    assert min(ys) == 90 and max(ys) == 100  # y points up: row 0 is y = H
    assert len(feature["geometry"]["coordinates"][0]) == 5  # a square is 4 corners, no extras
    assert feature["properties"]["label"] == "nucleus"


def test_hole_and_pieces():
    mask = np.zeros((12, 12), np.uint16)
    mask[1:8, 1:8] = 5
    mask[3:5, 3:5] = 0       # a hole
    mask[10, 10] = 5         # a second piece of the same object
    mask[8, 8] = 5           # touches the first piece only at a corner
    [feature] = mask_to_features(mask)["features"]
    geometry = feature["geometry"]
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 3
    with_hole = next(p for p in geometry["coordinates"] if len(p) == 2)
    assert _signed_area(with_hole[0]) > 0 > _signed_area(with_hole[1])
    assert np.array_equal(features_to_mask(mask_to_features(mask), 12, 12) > 0, mask > 0)


def _relabel(mask, collection):
    """features_to_mask numbers objects 1..n; map back to the original ids to compare."""
    painted = features_to_mask(collection, *mask.shape)
    ids = [f["properties"]["object_id"] for f in collection["features"]]
    return np.where(painted > 0, np.asarray([0] + ids)[painted], 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 24), st.integers(1, 24), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_round_trip_random_masks(height, width, seed, labels):
    mask = np.random.default_rng(seed).integers(0, labels + 1, (height, width))
    assert np.array_equal(_relabel(mask, mask_to_features(mask)), mask)


@pytest.mark.parametrize("fmt, dtype", [("PNG", np.uint8), ("PNG", np.uint16), ("TIFF", np.uint16),
                                         ("TIFF", np.int32)])
def test_read_png_and_tiff_masks(fmt, dtype):
    mask = np.zeros((6, 7), dtype)
    mask[1:3, 2:5] = 7 if dtype == np.uint8 else 300
    out = io.BytesIO()
    Image.fromarray(mask).save(out, format=fmt)
    assert np.array_equal(read_label_mask(out.getvalue()), mask)


def test_colour_image_is_not_a_label_mask():
    out = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(out, format="PNG")
    with pytest.raises(UnsupportedImage, match="one channel of integers"):
        read_label_mask(out.getvalue())
