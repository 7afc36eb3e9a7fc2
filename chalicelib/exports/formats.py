"""What one sample contributes to an export: files for the archive, a summary for
export.json, COCO records, and its agreement figure.

Layout inside the archive (one folder per sample, named by its id):
  <sample>/<input file names>                        geojson, with the `images` option
  <sample>/target_files_v<n>/annotation.json         geojson: every exported version
  <sample>/sample_status.json                        geojson: every action on the sample
  <sample>/masks/v<n>_<annotator>_instances.png      masks: uint16, feature k -> value k
  <sample>/masks/v<n>_<annotator>_semantic.png       masks, tasks with several labels
  coco.json, export.json                             written by the worker's last step
"""
import io
import json
import re
from dataclasses import dataclass, field

from . import agreement, raster

GEOJSON, MASKS, COCO = "geojson", "masks", "coco"


def parts(fmt: str) -> set[str]:
    return {GEOJSON, MASKS, COCO} if fmt == "all" else {fmt}


def select_versions(versions: list[dict], which: str) -> list[dict]:
    """`all`: every version (v0 = pre-annotation, drafts, submissions). `latest`: each
    annotator's latest submission; a sample nobody submitted gives its latest version."""
    if which == "all":
        return versions
    submitted = {}
    for v in versions:
        if v["kind"] == "submitted":
            submitted[v["by"]] = v  # versions come in order: the last one wins
    if submitted:
        return sorted(submitted.values(), key=lambda v: v["version"])
    return versions[-1:]


def compared(chosen: list[dict]) -> bool:
    """Several annotators submitted: their masks are compared (agreement)."""
    return len({v["by"] for v in chosen if v["kind"] == "submitted"}) >= 2


def keep_labels(collection: dict, labels: list[str] | None) -> dict:
    if labels is None:
        return collection
    return {**collection, "features": [f for f in collection.get("features", [])
                                       if (f.get("properties") or {}).get("label") in labels]}


def image_size(data: bytes) -> tuple[int, int]:
    """(height, width) from an image's header, without decoding its pixels."""
    from PIL import Image
    width, height = Image.open(io.BytesIO(data)).size
    return height, width


@dataclass
class Loaded:
    """A sample with everything read from storage (worker._load)."""
    sample_id: str
    status: str
    order: int
    versions: list[dict]                  # every version record, in order
    chosen: list[dict]                    # the ones to export
    annotations: dict[int, dict | str]    # version -> FeatureCollection, or why it is missing
    image_name: str | None
    size: tuple[int, int] | None          # (height, width)
    files: dict[str, bytes | str]         # input file name -> bytes, or why not copied
    size_problem: str | None = None
    stored: dict[int, bytes] = field(default_factory=dict)   # version -> the bytes as stored


@dataclass
class Built:
    files: list[tuple[str, bytes, bool]] = field(default_factory=list)  # name, bytes, compress
    summary: dict = field(default_factory=dict)
    coco_image: dict | None = None
    coco_annotations: list[dict] = field(default_factory=list)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]", "_", name)


def build(item: Loaded, fmt: str, labels: list[str] | None, label_index: dict,
          semantic: bool) -> Built:
    """Everything one sample adds. CPU only (no storage calls): runs in worker threads."""
    want, out = parts(fmt), Built()
    sid = item.sample_id
    exported, skipped, masks_by = [], [], {}
    compare = compared(item.chosen)
    if GEOJSON in want:
        for name, data in item.files.items():
            if isinstance(data, bytes):
                out.files.append((f"{sid}/{name}", data, False))
            else:
                skipped.append({"file": name, "reason": data})
        status = [{"version": v["version"], "kind": v["kind"], "by": v["by"], "at": v["at"],
                   "features": v["features"], "submitted": v["kind"] == "submitted"}
                  for v in item.versions]
        out.files.append((f"{sid}/sample_status.json", json.dumps(status, indent=1).encode(), True))
    for v in item.chosen:
        n, by = v["version"], v["by"]
        annotation = item.annotations.get(n)
        if not isinstance(annotation, dict):
            skipped.append({"version": n, "by": by, "reason": annotation or "not stored"})
            continue
        annotation = keep_labels(annotation, labels)
        entry = {"version": n, "by": by, "kind": v["kind"],
                 "features": len(annotation.get("features", []))}
        if GEOJSON in want:  # as stored, unless labels were filtered out
            data = item.stored[n] if labels is None and n in item.stored else \
                json.dumps(annotation).encode()
            out.files.append((f"{sid}/target_files_v{n}/annotation.json", data, True))
        if MASKS in want or COCO in want or (compare and v["kind"] == "submitted"):
            if item.size is None:
                entry["not_rasterised"] = item.size_problem
            else:
                try:
                    drawn = raster.rasterise(annotation, *item.size,
                                             label_index if semantic else None)
                except (ValueError, TypeError, KeyError, IndexError) as exc:
                    skipped.append({"version": n, "by": by, "reason":
                                    f"could not be rasterised: {exc.__class__.__name__}: {exc}"})
                    continue
                if drawn.not_drawn:
                    entry["not_rasterised"] = drawn.not_drawn
                if v["kind"] == "submitted":
                    masks_by[by] = drawn.instances   # the latest submission of each annotator
                stem = f"{sid}/masks/v{n}_{_safe(by)}"
                if MASKS in want:
                    out.files.append((f"{stem}_instances.png", raster.png(drawn.instances), False))
                    if drawn.semantic is not None:
                        out.files.append((f"{stem}_semantic.png", raster.png(drawn.semantic), False))
                if COCO in want:
                    out.coco_annotations += _coco(annotation, drawn, item, v, label_index)
        exported.append(entry)
    if COCO in want and item.size is not None:
        height, width = item.size
        out.coco_image = {"id": item.order + 1, "file_name": f"{sid}/{item.image_name}",
                          "width": width, "height": height, "sample_id": sid}
    out.summary = {"id": sid, "status": item.status, "exported": exported,
                   **({"image": {"name": item.image_name, "height": item.size[0],
                                 "width": item.size[1]}} if item.size else {}),
                   **({"skipped": skipped} if skipped else {}),
                   "agreement": agreement.sample(masks_by)}
    return out


def _coco(annotation: dict, drawn, item: Loaded, version: dict, label_index: dict) -> list[dict]:
    import numpy as np
    if item.size is None:  # nothing can be placed on an image of unknown size
        return []
    height = item.size[0]
    areas = np.bincount(drawn.instances.ravel(), minlength=len(annotation["features"]) + 1)
    out = []
    for k, feature in enumerate(annotation["features"], start=1):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") not in raster.AREAS:
            continue
        label = (feature.get("properties") or {}).get("label")
        out.append({"image_id": item.order + 1, "category_id": label_index.get(label, 0),
                    "segmentation": raster.coco_segmentation(geometry, height, drawn.instances, k),
                    "area": int(areas[k]), "bbox": raster.bbox(geometry, height), "iscrowd": 0,
                    "annotator": version["by"], "version": version["version"],
                    "sample_id": item.sample_id, "feature_index": k - 1})
    return out
