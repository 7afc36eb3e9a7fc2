"""What `annotate samples add` makes of folders, S3 listings and URL files."""
from pathlib import Path

import pytest

from annotator_cli.layout import LayoutError, from_listing, from_urls, scan_folder


def _touch(root: Path, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_original_layout_one_folder_per_sample(tmp_path):
    _touch(tmp_path, "s 1/dapi.png", "s 1/annotation.json", "s 1/notes.txt", "s2/dapi.png",
           "s2/annotation.tif", ".hidden/dapi.png")
    samples = scan_folder(tmp_path)
    assert [(s.id, sorted(s.files)) for s in samples] == [("s-1", ["dapi.png"]),
                                                         ("s2", ["annotation.tif", "dapi.png"])]
    assert samples[0].annotation == tmp_path / "s 1" / "annotation.json"


def test_flat_folder_one_sample_per_image(tmp_path):
    _touch(tmp_path, "cell 1.TIF", "cell-2.jpg", "readme.md")
    samples = scan_folder(tmp_path)
    assert [(s.id, list(s.files)) for s in samples] == [("cell-1", ["image.tif"]), ("cell-2", ["image.jpg"])]


@pytest.mark.parametrize("names, message", [
    (["a/x.png", "b.png"], "mixes sample folders and loose images"),
    (["a b.png", "a-b.png"], "already gives the sample id 'a-b'"),
    (["notes.txt"], "no images found"),
])
def test_layout_mistakes_are_explained(tmp_path, names, message):
    _touch(tmp_path, *names)
    with pytest.raises(LayoutError, match=message):
        scan_folder(tmp_path)


def test_s3_listing_in_both_layouts():
    flat = from_listing("s3://b/plate/", [{"uri": "s3://b/plate/w1.tif", "key": "plate/w1.tif"}])
    assert [(s.id, s.files) for s in flat] == [("w1", {"image.tif": "s3://b/plate/w1.tif"})]
    nested = from_listing("s3://b/p", [{"uri": "s3://b/p/s1/dapi.png", "key": "p/s1/dapi.png"},
                                       {"uri": "s3://b/p/s1/gfp.png", "key": "p/s1/gfp.png"}])
    assert [(s.id, sorted(s.files)) for s in nested] == [("s1", ["dapi.png", "gfp.png"])]
    with pytest.raises(LayoutError, match="mixes"):
        from_listing("s3://b/", [{"uri": "s3://b/a.png", "key": "a.png"},
                                 {"uri": "s3://b/s/a.png", "key": "s/a.png"}])


def test_url_file(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("# comment\nhttps://x.org/a/one.png?sig=1\n\nhttps://x.org/two\n")
    assert [(s.id, s.files) for s in from_urls(path)] == [
        ("one", {"image.png": "https://x.org/a/one.png?sig=1"}), ("two", {"image": "https://x.org/two"})]
    path.write_text("http://x.org/a.png\n")
    with pytest.raises(LayoutError, match="urls.txt:1"):
        from_urls(path)
