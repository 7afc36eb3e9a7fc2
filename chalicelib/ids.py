"""The shapes of identifiers and short texts: task ids, sample ids, file names, user ids,
names, labels (README, Limits). Ids are DynamoDB keys and parts of S3 keys."""
import re
from typing import Annotated

from pydantic import StringConstraints

TaskId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
# A user id (a token's sub, or email) is stored as a DynamoDB key and shown to owners:
# printable, at most 256 characters.
USER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SampleId = Annotated[str, StringConstraints(pattern=SAMPLE_ID.pattern)]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
