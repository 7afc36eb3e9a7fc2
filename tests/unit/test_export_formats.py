"""Export formats on constructed cases: the ZIP writer, rasterisation in the README's pixel
convention, COCO as pycocotools reads it, and agreement figures whose answer is known."""
import io
import json
import zipfile

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from chalicelib.exports import agreement, archive, raster
from chalicelib.ingest.masks import mask_to_features

H, W = 30, 40
# An asymmetric "Γ" at known pixels: a bar along rows 2-4 (columns 5-14) and a leg down
# columns 5-7 (rows 5-11). Upside down or mirrored it lands on other pixels.
GAMMA = np.zeros((H, W), np.uint16)
GAMMA[2:5, 5:15] = 1
GAMMA[5:12, 5:8] = 1


def gamma_feature(label="cell"):
    """The Γ outline in Kaibu coordinates (x = column, y = H - row), as a browser draws it."""
    corners = [(5, 2), (15, 2), (15, 5), (8, 5), (8, 12), (5, 12), (5, 2)]  # (col, row)
    ring = [[c, H - r] for c, r in corners]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"label": label}}


def square(x, y, size, label="cell"):
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"label": label}}


def fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


# --- rasterisation and orientation ----------------------------------------------------------

def test_gamma_lands_on_its_pixels():
    drawn = raster.rasterise(fc(gamma_feature()), H, W)
    assert np.array_equal(drawn.instances, GAMMA)
    assert drawn.instances.dtype == np.uint16


def test_mask_to_polygons_to_mask_gives_the_same_pixels():
    pattern = np.zeros((H, W), np.uint16)
    pattern[GAMMA == 1] = 7
    pattern[20:26, 30:33] = 3
    pattern[21:24, 31] = 0          # a hole
    pattern[15, 1] = 9              # one pixel near the left edge
    pattern[0, 39] = 2              # the top-right corner pixel
    features = mask_to_features(pattern)["features"]
    drawn = raster.rasterise(fc(*features), H, W).instances
    back = np.zeros_like(pattern)
    for k, feature in enumerate(features, start=1):
        back[drawn == k] = feature["properties"]["object_id"]
    assert np.array_equal(back, pattern)


def test_semantic_mask_uses_the_label_numbers_and_points_are_only_counted():
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [3, 3]},
             "properties": {"label": "cell"}}
    drawn = raster.rasterise(fc(square(0, 0, 2, "a"), point, square(10, 10, 2, "b")), H, W,
                             {"a": 1, "b": 2})
    assert drawn.not_drawn == {"Point": 1}
    assert set(np.unique(drawn.instances)) == {0, 1, 3}   # feature k -> value k
    assert drawn.semantic[H - 1, 0] == 1 and drawn.semantic[H - 11, 10] == 2
    assert drawn.semantic.sum() == 4 * 1 + 4 * 2


def test_png_keeps_sixteen_bits():
    values = np.arange(H * W, dtype=np.uint16).reshape(H, W) * 50
    from PIL import Image
    back = np.asarray(Image.open(io.BytesIO(raster.png(values))))
    assert np.array_equal(back.astype(np.uint16), values)


def test_coco_polygons_and_rle_reproduce_our_masks_in_pycocotools():
    holed = mask_to_features(np.pad(np.ones((6, 6), np.uint8), 2) - np.pad(
        np.pad(np.ones((2, 2), np.uint8), 2), 2))["features"][0]   # a ring with a hole
    collection = fc(gamma_feature(), square(25, 3, 6), holed)
    drawn = raster.rasterise(collection, H, W)
    for k, feature in enumerate(collection["features"], start=1):
        segmentation = raster.coco_segmentation(feature["geometry"], H, drawn.instances, k)
        if isinstance(segmentation, list):
            rles = coco_mask.frPyObjects(segmentation, H, W)
            theirs = coco_mask.decode(coco_mask.merge(rles))
        else:
            theirs = coco_mask.decode(coco_mask.frPyObjects(segmentation, H, W))
        assert np.array_equal(theirs.astype(bool), drawn.instances == k), k
    assert isinstance(raster.coco_segmentation(holed["geometry"], H, drawn.instances, 3), dict)
    x, y, w, h = raster.bbox(gamma_feature()["geometry"], H)
    assert (x, y, w, h) == (5, 2, 10, 10)   # image-row coordinates: the Γ's top is row 2


# --- agreement -------------------------------------------------------------------------------

def masks(*features):
    return raster.rasterise(fc(*features), 100, 100).instances


def test_identical_annotations_agree_fully():
    a = masks(square(10, 10, 10), square(50, 50, 20), gamma_feature())
    result = agreement.pair(a, a.copy())
    assert result["f1"] == 1.0 and result["mean_iou"] == pytest.approx(1.0)
    assert result["matches"] == 3


def test_disjoint_annotations_agree_zero():
    result = agreement.pair(masks(square(0, 0, 10)), masks(square(50, 50, 10), square(80, 0, 5)))
    assert result["f1"] == 0.0 and result["mean_iou"] is None and result["objects"] == [1, 2]


def test_a_known_shift():
    # A 10x10 square moved 2 px right: overlap 8x10 = 80, union 120 -> IoU 2/3, still a match.
    # Moved 6 px: overlap 40, union 160 -> IoU 0.25, no match.
    a = masks(square(10, 10, 10), square(60, 60, 10))
    b = masks(square(12, 10, 10), square(66, 60, 10))
    result = agreement.pair(a, b)
    assert result["matches"] == 1 and result["f1"] == pytest.approx(0.5)
    assert result["mean_iou"] == pytest.approx(2 / 3)
    assert agreement.iou_matrix(a, b)[1, 1] == pytest.approx(0.25)


def test_matching_is_optimal_not_greedy():
    # Greedy by best IoU would pair A0-B0 (0.6) and leave A1-B1 at 0.4 (no match);
    # the optimal assignment pairs A0-B1 and A1-B0 (0.55 + 0.55).
    score = np.array([[0.6, 0.55], [0.55, 0.4]])
    assert agreement.assignment(score) == [(0, 1), (1, 0)]
    rng = np.random.default_rng(3)
    for shape in [(4, 6), (6, 4), (5, 5)]:   # brute force agrees on random cases
        from itertools import permutations
        m = rng.random(shape)
        n = min(shape)
        best = max(sum(m[r, c] if shape[0] <= shape[1] else m[c, r] for r, c in
                       zip(range(n), perm)) for perm in permutations(range(max(shape)), n))
        got = sum(m[r, c] for r, c in agreement.assignment(m))
        assert got == pytest.approx(best)


def test_sample_agreement_averages_pairs():
    a = masks(square(10, 10, 10))
    result = agreement.sample({"x": a, "y": a.copy(), "z": masks()})
    assert set(result["pairs"]) == {"x|y", "x|z", "y|z"}
    assert result["f1"] == pytest.approx((1 + 0 + 0) / 3)
    assert agreement.sample({"x": a}) is None
    assert agreement.pair(masks(), masks())["f1"] == 1.0   # two empty annotations agree


# --- the archive -----------------------------------------------------------------------------

class Collect:
    """A PartSink stand-in that keeps the bytes (the S3 side is covered by test_export_jobs)."""

    def __init__(self):
        self.data = bytearray()

    def write(self, chunk):
        self.data += chunk


def test_archive_written_in_pieces_opens_with_zipfile():
    when = archive.dos_time(1_700_000_000)
    sink, offset, central, entries = Collect(), 0, bytearray(), 0
    for piece in range(3):   # three "invocations", each starting where the last stopped
        writer = archive.Writer(offset, when, sink)
        writer.add(f"s{piece}/annotation.json", json.dumps({"piece": piece}).encode())
        writer.add(f"s{piece}/mask.png", bytes(range(256)) * 4, compress=False)
        offset, central, entries = writer.offset, central + writer.out.central, entries + writer.out.count
    writer = archive.Writer(offset, when, sink)
    writer.stream("export.json", (b'{"samples": [', b"1,2,3" * 1000, b"]}"))
    central += writer.out.central
    sink.write(bytes(central))
    sink.write(archive.end_records(entries + 1, len(central), writer.offset))
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as zf:
        assert zf.testzip() is None
        assert zf.namelist()[-1] == "export.json" and len(zf.namelist()) == 7
        assert json.loads(zf.read("s1/annotation.json")) == {"piece": 1}
        assert zf.read("s2/mask.png") == bytes(range(256)) * 4
        assert zf.read("export.json").startswith(b'{"samples": [1,2,31,2,3')


def test_zip64_end_records_when_entries_exceed_sixteen_bits():
    when = archive.dos_time(0)
    sink = Collect()
    writer = archive.Writer(0, when, sink)
    for i in range(70_000):
        writer.add(f"{i}", b"", compress=False)
    sink.write(bytes(writer.out.central))
    sink.write(archive.end_records(70_000, len(writer.out.central), writer.offset))
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as zf:
        assert len(zf.infolist()) == 70_000 and zf.read("69999") == b""
