"""Create the tables and the data bucket if missing: `python -m chalicelib.bootstrap`.

Used by the local stack and by tests; on AWS the CloudFormation template creates them.
"""
from . import models, storage


def main() -> None:
    models.create_tables()
    storage.ensure_bucket()


if __name__ == "__main__":
    main()
