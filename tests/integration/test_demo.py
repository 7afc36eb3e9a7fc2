"""The demo task as `make dev` seeds it, checked through the API a browser uses."""
import io

import numpy as np
import requests
from PIL import Image

from devstack import demo
from tests.settings import HTTP_TIMEOUT


def centroid_pixel(pixels, feature):
    """The pixel under a polygon's vertex mean, mapped back from Kaibu's y-up coordinates."""
    x, y = np.mean(feature["geometry"]["coordinates"][0][:-1], axis=0)
    return pixels[int(demo.SIZE - y), int(x)]


def test_demo_seeds_once_and_serves_real_images(stack):
    assert demo.seed(stack) is True
    assert demo.seed(stack) is False  # a restored stack keeps its demo as is

    admin = stack.auth(stack.tokens["admin"])
    progress = requests.get(f"{stack.api_url}/tasks/demo/progress", headers=admin, timeout=HTTP_TIMEOUT)
    assert progress.json()["total"] == demo.COUNT >= 20

    # A dedicated annotator so other tests' leases are not disturbed.
    annotator = stack.auth(stack.annotator_token("demo-checker"))
    claimed = requests.post(f"{stack.api_url}/tasks/demo/claim", headers=annotator, timeout=HTTP_TIMEOUT)
    assert claimed.status_code == 200, claimed.text
    sample = claimed.json()["sample"]
    image = Image.open(io.BytesIO(requests.get(sample["files"]["image.png"], timeout=HTTP_TIMEOUT).content))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (512, 512))

    # Sequential sampling hands out field-00 first, which is pre-annotated: every outline
    # must sit on a blob, brighter than the dark background (a flipped y would miss).
    assert sample["id"] == "field-00" and sample["annotation"]["features"]
    pixels = np.asarray(image)
    background = np.percentile(pixels, 25)
    for feature in sample["annotation"]["features"]:
        assert centroid_pixel(pixels, feature) > background + 10, feature["properties"]
    requests.post(f"{stack.api_url}/tasks/demo/samples/{sample['id']}/release", headers=annotator,
                  json={"lease_id": claimed.json()["lease"]["id"]}, timeout=HTTP_TIMEOUT)
