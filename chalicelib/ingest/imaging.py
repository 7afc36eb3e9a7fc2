"""Turn an uploaded image into what a browser can show.

Microscopy images arrive as 16-bit, multi-page or multi-channel TIFFs that a
browser cannot display (or displays black, because the signal sits in the
lowest few hundred of 65,535 grey levels). `prepare_image` reads the upload
once with Pillow and returns:

* metadata: width, height, channels, dtype and pages of the original;
* a browser-ready 8-bit PNG of the first page, same width and height as the
  original (annotation coordinates are pixels of the original, so the preview
  must never be resized);
* a thumbnail PNG (longest side THUMBNAIL_SIZE) for the dashboard.

Contrast: images that are not 8-bit get a per-channel percentile stretch:
for each channel, the 0.5th and 99.5th percentiles map to 0 and 255 and
values outside are clipped. Percentiles instead of min/max so a few hot or
dead pixels do not flatten the picture; per channel so a dim channel is not
drowned by a bright one. A constant channel maps to 0. 8-bit images are
already display-ready and are kept as they are (stretching a photo would
change its colours).

Anything Pillow cannot decode raises `UnsupportedImage` with a reason meant
for the person who uploaded the file. This module is pure: bytes in, bytes
out, no AWS.
"""
from dataclasses import dataclass
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

THUMBNAIL_SIZE = 256
STRETCH_PERCENTILES = (0.5, 99.5)
# A 5000 x 5000 field: decoding and stretching it peaks near 250 MB, which fits the 512 MB
# Lambda infra/deploy.py configures next to the file's own bytes (imports.MAX_INGEST_BYTES).
# Larger images are refused with a request to tile them.
MAX_PIXELS = 5000 * 5000
PERCENTILE_SAMPLE = 4_000_000

# Pillow modes whose pixels numpy sees as (H, W) or (H, W, C) directly.
_NUMPY_MODES = {"L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I", "F"}
# Modes Pillow can only show us after a conversion that loses nothing we show.
_CONVERT = {"1": "L", "P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB",
            "LAB": "RGB", "HSV": "RGB", "I;16N": "I", "La": "LA", "RGBa": "RGBA",
            "RGBX": "RGB"}
_PNG_MODE_BY_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class UnsupportedImage(ValueError):
    """The bytes are not an image we can read; `reason` says why, for a person."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageMetadata:
    width: int
    height: int
    channels: int
    dtype: str
    pages: int

    def to_dict(self) -> dict:
        return {"width": self.width, "height": self.height, "channels": self.channels,
                "dtype": self.dtype, "pages": self.pages}


@dataclass(frozen=True)
class PreparedImage:
    metadata: ImageMetadata
    png: bytes
    thumbnail: bytes


def prepare_image(data: bytes) -> PreparedImage:
    """Read an uploaded image; return its metadata, an 8-bit PNG and a thumbnail."""
    pixels, pages = _decode_first_page(data)
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    metadata = ImageMetadata(width=width, height=height, channels=channels,
                             dtype=str(pixels.dtype.newbyteorder("=")), pages=pages)
    display = Image.fromarray(_to_uint8(pixels), _PNG_MODE_BY_CHANNELS[channels])
    thumbnail = display.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return PreparedImage(metadata=metadata, png=_png(display), thumbnail=_png(thumbnail))


def _decode_first_page(data: bytes) -> tuple[np.ndarray, int]:
    if not data:
        raise UnsupportedImage("the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice its limit; we want one rule.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise UnsupportedImage(
                    f"the image is {image.width}x{image.height} pixels; the limit is "
                    f"{MAX_PIXELS:,} pixels: split it into tiles")
            pages = getattr(image, "n_frames", 1)
            image.seek(0)
            image.load()
    except UnidentifiedImageError:
        raise UnsupportedImage("not an image format we can read (PNG, TIFF, JPEG, ...)") from None
    except Image.DecompressionBombError as exc:
        raise UnsupportedImage(f"the image is too large to decode: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError) as exc:
        # Pillow reports truncated or damaged data through these (TypeError: a TIFF whose
        # later pages were cut off, found while counting them).
        raise UnsupportedImage(f"the image is damaged or truncated ({exc})") from None
    mode = _CONVERT.get(image.mode, image.mode)
    if mode not in _NUMPY_MODES:
        raise UnsupportedImage(f"unsupported pixel format {image.mode!r}")
    if mode != image.mode:
        image = image.convert(mode)
    return np.asarray(image), pages


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    planes = pixels[..., np.newaxis] if pixels.ndim == 2 else pixels
    stretched = np.stack([_stretch(planes[..., c]) for c in range(planes.shape[2])], axis=-1)
    return stretched[..., 0] if pixels.ndim == 2 else stretched


def _stretch(plane: np.ndarray) -> np.ndarray:
    # float32 and in-place arithmetic: about 7 bytes per pixel at the peak, not 30.
    values = plane.astype(np.float32)
    # Percentiles of an evenly strided sample of at most PERCENTILE_SAMPLE values: the same
    # cut-offs to within a grey level, without sorting a copy of a large image.
    sample = values.ravel()[::max(1, values.size // PERCENTILE_SAMPLE)]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros(plane.shape, np.uint8)
    low, high = np.percentile(sample, STRETCH_PERCENTILES)
    if high <= low:
        return np.zeros(plane.shape, np.uint8)
    values -= low
    values *= 255.0 / (high - low)
    np.nan_to_num(values, copy=False, nan=0.0)
    np.clip(values, 0, 255, out=values)
    return np.rint(values, out=values).astype(np.uint8)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
