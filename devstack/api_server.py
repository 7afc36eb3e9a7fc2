"""The local API: `chalice local` for the stage, plus the answers API Gateway gives itself.

API Gateway answers some requests before the app sees them: a path no route matches, say.
infra/gateway_responses.py says what those answers are (the error envelope, not API
Gateway's {"message": "Missing Authentication Token"}); the deploy puts them on the REST API
and this server gives the same answers locally, so clients meet one behaviour everywhere.

    python -m devstack.api_server --stage local --host 127.0.0.1 --port 8000
"""
import argparse
import json
import logging
import os
import sys
from pathlib import Path

from chalice import local
from chalice.cli.factory import CLIFactory

from infra.gateway_responses import responses

ROOT = Path(__file__).resolve().parent.parent


class GatewayRequestHandler(local.ChaliceRequestHandler):
    def _send_error_response(self, error: local.LocalGatewayException) -> None:
        # chalice local raises ForbiddenError where API Gateway finds no route.
        if not isinstance(error, local.ForbiddenError):
            return super()._send_error_response(error)
        status, body = responses()["MISSING_AUTHENTICATION_TOKEN"]
        headers = {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}
        self._send_http_response(status, headers, json.dumps(body).encode())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    # As `chalice local` does (chalice.local.create_local_server), with our request handler;
    # reading the config imports app.py with the stage's environment variables set.
    config = CLIFactory(project_dir=str(ROOT), environ=dict(os.environ)).create_config_obj(
        chalice_stage_name=args.stage)
    app = config.chalice_app
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app.__class__)
    app.__class__ = local.CustomLocalChalice
    server = local.LocalDevServer(app, config, args.host, args.port,
                                  handler_cls=GatewayRequestHandler)
    server.serve_forever()


if __name__ == "__main__":
    main()
