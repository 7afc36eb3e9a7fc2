"""What a cold Lambda imports: `import app` in a fresh interpreter, with a deployed stage's settings.

Only ingest decodes images; the API's routes must not pay numpy's and Pillow's import on
every cold start, nor boto3's transfer manager (the API talks to S3 through botocore).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys, app; print(__import__('json').dumps(sorted(sys.modules)))"


def loaded_by_import_app():
    env = {**os.environ, "TABLE_PREFIX": "cold-", "DATA_BUCKET": "cold-data",
           "AWS_DEFAULT_REGION": "us-east-1", "JWT_SECRET": "cold-start-test-secret-32-bytes-long"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return set(json.loads(out))


def test_import_app_leaves_image_libraries_and_boto3_unloaded():
    loaded = loaded_by_import_app()
    assert "app" in loaded and "chalicelib.leases" in loaded  # the probe did import the API
    for heavy in ("numpy", "PIL", "boto3", "s3transfer"):
        assert heavy not in loaded, f"`import app` loads {heavy}: import it where it is used"
