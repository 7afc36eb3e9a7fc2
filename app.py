"""The Chalice app: its middleware and the route blueprints, one per audience
(chalicelib/routes/). Each route: who is calling, what they sent, one call into chalicelib,
the answer; the logic lives in chalicelib (see its modules' docstrings)."""
from chalice import Chalice

from chalicelib import request_log
from chalicelib.http import framework_envelope
from chalicelib.routes import admin, annotate, export, legacy, service, signin, tasks

app = Chalice(app_name="cloud-annotator")
request_log.install(app)
app.register_middleware(framework_envelope, "http")
app.register_blueprint(service.blueprint)
app.register_blueprint(tasks.blueprint)
app.register_blueprint(annotate.blueprint)
app.register_blueprint(admin.blueprint)
app.register_blueprint(legacy.blueprint, url_prefix="/legacy")
app.register_blueprint(export.blueprint)
app.register_blueprint(signin.blueprint)
