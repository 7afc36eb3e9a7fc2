"""Stands in for Lambda's Python 3.11 runtime in the deploy rehearsal.

    <venv holding only boto3>/bin/python -I lambda_runtime.py PACKAGE_DIR [LAYER_DIR ...]

Reads one JSON request per line on stdin, `{"handler": "app.app", "event": {...}}`, calls that
handler from the unpacked deployment package (first on sys.path, as /var/task is on Lambda)
and writes `{"result": ..., "logs": [lines]}` or `{"error": traceback}` per line (each LAYER_DIR
is an unpacked layer, Lambda's /opt: its python/ follows the package on sys.path): what the code
prints (its logs, which Lambda sends to CloudWatch) is collected instead of mixing with the
answers. It runs with the function's deployed environment only; `-I` keeps this file's folder,
and so the repository, off sys.path.
"""
import io
import importlib
import json
import os
import sys
import traceback
import uuid


class Context:
    """The attributes of Lambda's context object that handlers read."""

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")

    @staticmethod
    def get_remaining_time_in_millis():
        return 30_000


def main():
    sys.path[0:0] = [sys.argv[1], *(os.path.join(layer, "python") for layer in sys.argv[2:])]
    answers, printed = sys.stdout, io.StringIO()
    sys.stdout = printed  # before the handler's module makes its log handlers
    for line in sys.stdin:
        request = json.loads(line)
        module, _, name = request["handler"].rpartition(".")
        try:
            handler = getattr(importlib.import_module(module), name)
            answer = {"result": handler(request["event"], Context())}
        except Exception:
            answer = {"error": traceback.format_exc()}
        answer["logs"] = printed.getvalue().splitlines()
        printed.seek(0)
        printed.truncate()
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
