"""Create the tables, the data bucket and the export queue if missing:
`python -m chalicelib.bootstrap`.

Used by the local stack and by tests; on AWS the CloudFormation template creates them.
"""
import os

import boto3

from . import config, models, storage


def ensure_export_queue() -> None:
    # A failed export step becomes visible again after this long and is retried.
    seconds = os.environ.get("EXPORT_RETRY_SECONDS", "960")
    boto3.client("sqs", region_name=config.REGION).create_queue(
        QueueName=config.EXPORT_QUEUE, Attributes={"VisibilityTimeout": seconds})


def main() -> None:
    models.create_tables()
    storage.ensure_bucket()
    # A configured import bucket that does not exist would make every import of it fail.
    for bucket in config.IMPORT_BUCKETS:
        storage.ensure_bucket(bucket)
    ensure_export_queue()


if __name__ == "__main__":
    main()
