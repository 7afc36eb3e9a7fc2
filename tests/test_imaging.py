"""prepare_image on the kinds of files administrators upload."""
import io

import numpy as np
import pytest
from PIL import Image

from chalicelib.ingest.imaging import THUMBNAIL_SIZE, UnsupportedImage, prepare_image


def _tiff(pages: list[np.ndarray]) -> bytes:
    images = [Image.fromarray(p) for p in pages]
    out = io.BytesIO()
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:])
    return out.getvalue()


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image)


def test_16bit_multipage_tiff_is_stretched_to_full_8bit_range():
    rng = np.random.default_rng(0)
    # Dim microscopy signal: everything below 1,200 of 65,535 grey levels.
    pages = [rng.integers(100, 1200, (300, 500), dtype=np.uint16) for _ in range(3)]
    result = prepare_image(_tiff(pages))
    assert result.metadata.to_dict() == {"width": 500, "height": 300, "channels": 1,
                                         "dtype": "uint16", "pages": 3}
    shown = _decode(result.png)
    assert shown.shape == (300, 500) and shown.dtype == np.uint8
    # 0.5 % of pixels clip to each end (plus those rounding to 0 or 255); the rest spread between.
    assert shown.min() == 0 and shown.max() == 255
    assert 0.005 <= (shown == 0).mean() < 0.01 and 0.005 <= (shown == 255).mean() < 0.01
    # The stretch is monotonic: brighter in, never darker out.
    order = np.argsort(pages[0].ravel(), kind="stable")
    assert np.all(np.diff(shown.ravel()[order].astype(int)) >= 0)


def test_hot_pixels_do_not_flatten_the_picture():
    plane = np.full((100, 100), 1000, np.uint16)
    plane[:50] = 2000
    plane[0, :5] = 65535  # five hot pixels, 0.05 %
    shown = _decode(prepare_image(_tiff([plane])).png)
    assert shown[10, 10] == 255 and shown[90, 90] == 0


def test_three_channel_tiff_keeps_its_channels():
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    result = prepare_image(_tiff([rgb]))
    assert result.metadata.to_dict() == {"width": 60, "height": 40, "channels": 3,
                                         "dtype": "uint8", "pages": 1}
    # 8-bit is already display-ready: colours are kept, not stretched.
    assert np.array_equal(_decode(result.png), rgb)


def test_jpeg():
    rgb = np.random.default_rng(1).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG")
    result = prepare_image(out.getvalue())
    assert result.metadata.to_dict() == {"width": 80, "height": 64, "channels": 3,
                                         "dtype": "uint8", "pages": 1}
    assert _decode(result.png).shape == (64, 80, 3)


def test_thumbnail_keeps_aspect_ratio():
    plane = np.arange(1024 * 512, dtype=np.float32).reshape(512, 1024)
    result = prepare_image(_tiff([plane]))
    assert result.metadata.dtype == "float32"
    assert Image.open(io.BytesIO(result.thumbnail)).size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)


def test_constant_16bit_image_is_black_not_an_error():
    shown = _decode(prepare_image(_tiff([np.full((8, 8), 7, np.uint16)])).png)
    assert not shown.any()


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"this is a text file, not an image", "not an image format"),
    (_tiff([np.zeros((64, 64), np.uint16)])[:300], "damaged or truncated"),
    (_tiff([np.zeros((50, 70), np.uint16)] * 3)[:400], "damaged or truncated"),
])
def test_unreadable_files_raise_with_a_reason(data, reason):
    with pytest.raises(UnsupportedImage) as caught:
        prepare_image(data)
    assert reason in caught.value.reason


def test_truncated_png_is_damaged():
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64), dtype=np.uint8)).save(out, "PNG")
    with pytest.raises(UnsupportedImage, match="damaged or truncated"):
        prepare_image(out.getvalue()[:-200])


def test_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr("chalicelib.ingest.imaging.MAX_PIXELS", 100)
    with pytest.raises(UnsupportedImage, match="split it into tiles"):
        prepare_image(_tiff([np.zeros((11, 10), np.uint16)]))


def test_large_images_take_percentiles_from_a_sample(monkeypatch):
    monkeypatch.setattr("chalicelib.ingest.imaging.PERCENTILE_SAMPLE", 1000)
    plane = np.random.default_rng(3).integers(0, 4096, (300, 300), dtype=np.uint16)
    shown = _decode(prepare_image(_tiff([plane])).png).astype(int)
    exact = np.clip(np.rint((plane - np.percentile(plane, 0.5)) * 255 /
                            (np.percentile(plane, 99.5) - np.percentile(plane, 0.5))), 0, 255)
    assert np.abs(shown - exact).max() <= 3  # within a few grey levels of the exact stretch
