"""Test data for the browser tests: images whose content tells where they are, and tasks over the API.

The coordinate-convention test needs images it can find on screen: coloured markers at known
(column, row) pixels, placed asymmetrically so that a flipped axis cannot pass for a correct one.
"""
import io
import uuid

import boto3
import numpy as np
from annotator_cli.client import Http
from botocore.config import Config
from PIL import Image, ImageDraw
from tests.integration.client import RETRY

WIDTH, HEIGHT = 480, 360

# colour -> (column, row) of the marker's centre in the image
MARKERS = {
    (255, 0, 0): (80, 60),
    (0, 255, 0): (400, 90),
    (0, 0, 255): (330, 300),
    (255, 255, 0): (120, 250),
}
MARKER_RADIUS = 7


def cell_field(seed: int = 0, width: int = WIDTH, height: int = HEIGHT):
    """A fluorescence-microscopy-like field: soft bright nuclei on a dark, slightly noisy background.

    Returns (RGB uint8 array, nuclei as (column, row, x radius, y radius, brightness) list).
    """
    rng = np.random.default_rng(seed)
    signal = np.zeros((height, width))
    nuclei = []
    for _ in range(int(width * height / 9000)):
        col, row = rng.uniform(24, width - 24), rng.uniform(24, height - 24)
        r = rng.uniform(9, 19)
        stretch = rng.uniform(0.75, 1.3)
        brightness = rng.uniform(0.5, 1.0)
        # Only a window around the nucleus: the soft edge is flat zero beyond 2 radii.
        top, left = int(max(0, row - 3 * r)), int(max(0, col - 3 * r))
        rows, cols = np.mgrid[top:int(min(height, row + 3 * r)), left:int(min(width, col + 3 * r))]
        d2 = ((cols - col) / (r * stretch)) ** 2 + ((rows - row) / (r / stretch)) ** 2
        signal[rows, cols] += brightness / (1 + np.exp((np.sqrt(d2) - 1) * 8))
        nuclei.append((col, row, r * stretch, r / stretch, brightness))
    signal += rng.normal(0, 0.03, signal.shape) + 0.05
    signal = np.clip(signal, 0, 1)
    rgb = np.stack([signal * 0.35, signal * 0.75, signal], axis=-1)  # DAPI-like blue-cyan
    return (rgb * 255).astype(np.uint8), nuclei


def png(rgb) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


def marker_image(seed: int = 0) -> bytes:
    """A cell field plus the four colour markers, as PNG."""
    rgb, _ = cell_field(seed)
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    for colour, (col, row) in MARKERS.items():
        draw.rectangle([col - MARKER_RADIUS, row - MARKER_RADIUS, col + MARKER_RADIUS, row + MARKER_RADIUS],
                       fill=colour)
    return png(np.asarray(img))


class Seeder:
    """Creates tasks and samples through the real API, images through the local S3 (moto)."""

    def __init__(self, api_url: str, admin_token: str, s3_endpoint: str, bucket: str):
        self.api_url = api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.http = Http(self.api_url, admin_token, **RETRY)
        self.bucket = bucket
        self.s3 = boto3.client(
            "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(s3={"addressing_style": "path"}))

    def task(self, n_samples: int, labels=("cell", "nucleus", "debris"), pre_annotation=None, image=marker_image,
             **fields) -> str:
        task_id = fields.pop("id", f"ui-{uuid.uuid4().hex[:10]}")
        body = {
            "id": task_id,
            "name": fields.pop("name", "Nuclei segmentation"),
            "description": "Outline every nucleus.",
            "instructions": fields.pop(
                "instructions", "Outline each nucleus with a polygon. Label cut-off nuclei at the border as debris."),
            "labels": list(labels),
            "client_config": fields.pop("client_config", {"draw_label": labels[0], "draw_shape_type": "Polygon"}),
            **fields,
        }
        r = self.http.call("POST", "/tasks", json=body)
        r.raise_for_status()
        samples = []
        for i in range(n_samples):
            key = f"uploads/{task_id}/s{i:03d}/image.png"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=image(i), ContentType="image/png")
            samples.append({"id": f"s{i:03d}", "files": {"image.png": key}, "annotation": pre_annotation})
        if samples:
            r = self.http.call("POST", f"/tasks/{task_id}/samples", json={"samples": samples})
            r.raise_for_status()
        return task_id

    def get(self, path: str):
        r = self.http.call("GET", path)
        r.raise_for_status()
        return r.json()
