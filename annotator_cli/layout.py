"""What `samples add` reads: a local folder, an s3:// listing or a file of URLs -> samples.

Folder layouts (the original system's, and the simple one):
- one sub-folder per sample, the same file names in each (`sample-1/dapi.png`, ...), with an
  optional `annotation.json` (GeoJSON pre-annotation, Kaibu convention) or `annotation.png` /
  `annotation.tif` (label mask, converted to polygons by the server);
- a flat folder of images: one sample per image, id = file name without extension.
Ids and file names are made safe for the API (letters, digits, `.`, `_`, `-`), and a clash
after that is an error rather than a silent overwrite.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
PRE_ANNOTATION = "annotation.json"
MASK_NAMES = {"annotation.png", "annotation.tif", "annotation.tiff"}


class LayoutError(ValueError):
    pass


@dataclass
class SampleSource:
    id: str
    files: dict[str, str | Path] = field(default_factory=dict)   # name -> local path | URI
    annotation: Path | None = None                                 # local annotation.json

    def load_annotation(self) -> dict | None:
        if self.annotation is None:
            return None
        try:
            return json.loads(self.annotation.read_text())
        except ValueError as exc:
            raise LayoutError(f"{self.annotation}: not valid JSON ({exc})") from None


def safe_name(name: str, limit: int) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip("._-")[:limit]
    if not cleaned:
        raise LayoutError(f"cannot make an id or file name out of {name!r}")
    return cleaned


def _wanted(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES or name.lower() == PRE_ANNOTATION


def _add(samples: dict, sample_id: str, name: str, ref) -> None:
    sample_id = safe_name(sample_id, 128)
    sample = samples.setdefault(sample_id, SampleSource(sample_id))
    if name.lower() == PRE_ANNOTATION:
        sample.annotation = ref
        return
    name = safe_name(name, 64)
    if name in sample.files:
        raise LayoutError(f"two files of sample {sample_id!r} are both called {name!r} once made "
                          "safe; rename one")
    sample.files[name] = ref


def scan_folder(root: Path) -> list[SampleSource]:
    if not root.is_dir():
        raise LayoutError(f"{root} is not a folder")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if p.is_file() and _wanted(p.name)]
    if folders and loose:
        raise LayoutError(f"{root} mixes sample folders and loose images; use one layout")
    samples: dict[str, SampleSource] = {}
    if folders:
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.is_file() and _wanted(path.name):
                    _add(samples, folder.name, path.name, path)
    else:
        for path in loose:
            if path.name.lower() == PRE_ANNOTATION:
                continue
            _check_unique(samples, path.stem, path)
            _add(samples, path.stem, "image" + path.suffix.lower(), path)
    return _non_empty(samples, str(root))


def from_listing(uri: str, objects: list[dict]) -> list[SampleSource]:
    """Samples from an s3:// listing ({"uri", "key"} per object) in either layout."""
    prefix = uri.split("/", 3)[3] if uri.count("/") >= 3 else ""
    samples: dict[str, SampleSource] = {}
    depths = set()
    for obj in objects:
        parts = obj["key"][len(prefix):].lstrip("/").split("/")
        depths.add(len(parts))
        if not _wanted(parts[-1]) or parts[-1].lower() == PRE_ANNOTATION or len(parts) > 2:
            continue
        if len(parts) == 1:
            stem = PurePosixPath(parts[0]).stem
            _check_unique(samples, stem, obj["uri"])
            _add(samples, stem, "image" + PurePosixPath(parts[0]).suffix.lower(), obj["uri"])
        else:
            _add(samples, parts[0], parts[1], obj["uri"])
    if {1, 2} <= depths:
        raise LayoutError(f"{uri} mixes sample folders and loose images; use one layout")
    return _non_empty(samples, uri)


def from_urls(path: Path) -> list[SampleSource]:
    """One sample per https URL line (blank lines and # comments skipped)."""
    samples: dict[str, SampleSource] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        if not url.startswith("https://"):
            raise LayoutError(f"{path}:{number}: {url!r} is not an https:// URL")
        name = PurePosixPath(url.split("?", 1)[0]).name or f"url-{number}"
        _check_unique(samples, PurePosixPath(name).stem, url)
        _add(samples, PurePosixPath(name).stem, "image" + (PurePosixPath(name).suffix.lower() or ""), url)
    return _non_empty(samples, str(path))


def _check_unique(samples: dict, stem: str, ref) -> None:
    if safe_name(stem, 128) in samples:
        raise LayoutError(f"{ref}: another image already gives the sample id {safe_name(stem, 128)!r}")


def _non_empty(samples: dict, where: str) -> list[SampleSource]:
    usable = [s for s in samples.values() if s.files]
    if not usable:
        raise LayoutError(f"no images found in {where} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return usable
