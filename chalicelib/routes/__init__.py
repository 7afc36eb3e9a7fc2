"""Route blueprints, one module per audience or protocol; app.py registers each with one line.

What every route body asks of the current request (who is calling, the parsed body, query
parameters) and the answers several audiences share (a task as this caller may see it, a
claimed sample) live here once.
"""
from chalice import Blueprint

from .. import leases, progress, samples
from ..auth import principal_from_request
from ..http import body, int_param, query_param
# Names, not the module: `tasks` here would hide the routes.tasks blueprint module.
from ..tasks import is_owner, to_json


class Routes(Blueprint):
    """A blueprint whose route bodies read the current request through it."""

    def caller(self):
        return principal_from_request(self.current_request)

    def body(self, model):
        return body(self.current_request, model)

    def query(self, name: str, default=None):
        return query_param(self.current_request, name, default)

    def int_query(self, name: str, default, low: int, high: int):
        return int_param(self.current_request, name, default, low, high)

    def flag(self, name: str) -> bool:
        return str(self.query(name, "0")).lower() in ("1", "true", "yes")


def task_view(who, task, counters_only=False):
    """A task as this caller may see it: annotators see neither other people nor their counts."""
    owner = is_owner(who, task)
    shown = progress.counters(task) if counters_only else \
        progress.full(task, only=None if owner else who.sub)
    return to_json(task, shown, full=owner)


def claimed(task, who, lease):
    """The answer to a claim: the sample's signed files, the version to start from, the lease."""
    annotation, version = leases.start_annotation(task, lease.sample, who.sub)
    return {"sample": {"id": lease.sample.sample_id, "files": samples.signed_files(task, lease.sample),
                       "annotation": annotation, "version": version},
            "lease": {"id": lease.lease_id, "expires_at": lease.expires_at}}
