"""What API Gateway answers itself, before the app sees a request (a path no route matches,
throttling), in the API's error envelope; `gateway_responses.json` beside this file says what.

infra/deploy.py puts these on the deployed REST API; devstack/api_server.py gives the same
answers locally, so a client meets one behaviour everywhere. Each body carries the native
envelope and the original ImJoy clients' one (`success`, `detail`), since /legacy shares them.
"""
import json
from pathlib import Path

SPEC = Path(__file__).with_name("gateway_responses.json")


def responses() -> dict[str, tuple[int | None, dict]]:
    """API Gateway response type -> (status or None for the default, body)."""
    out = {}
    for kind, spec in json.loads(SPEC.read_text()).items():
        if kind.startswith("_"):
            continue
        body = {"error": {"code": spec["code"], "message": spec["message"]},
                "success": False, "detail": spec["message"]}
        out[kind] = (spec.get("status"), body)
    return out


def put_on(apigateway, rest_api_id: str) -> None:
    """Configure every response on a REST API (the next deployment of a stage serves them)."""
    for kind, (status, body) in responses().items():
        apigateway.put_gateway_response(
            restApiId=rest_api_id, responseType=kind,
            **({"statusCode": str(status)} if status else {}),
            responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
            responseTemplates={"application/json": json.dumps(body)})
