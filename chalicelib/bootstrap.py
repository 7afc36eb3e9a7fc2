"""Create the tables and the data bucket if missing: `python -m chalicelib.bootstrap`.

Used by the local stack and by tests; on AWS the CloudFormation template creates them.
"""
from . import config, models, storage


def main() -> None:
    models.create_tables()
    storage.ensure_bucket()
    # A configured import bucket that does not exist would make every import of it fail.
    for bucket in config.IMPORT_BUCKETS:
        storage.ensure_bucket(bucket)


if __name__ == "__main__":
    main()
