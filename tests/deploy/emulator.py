"""moto for the deploy rehearsal: devstack's server, with three moto 5.2.5 gaps filled.

    python -m tests.deploy.emulator --port N

`chalice deploy` sends API Gateway a Swagger 2.0 document (ImportRestApi, then PutRestApi on
later deploys). moto 5.2.5 refuses any document that is not OpenAPI 3 ("Only OpenAPI 3.x.x are
currently supported") and answers 500 when `info.description` is missing; API Gateway accepts
both. What moto reads of the document (paths, methods, responses, the
x-amazon-apigateway-integration of each) is spelled the same in both versions, so the shim only
relabels the version and supplies an empty description. And moto's document import drops the
`uri` and `httpMethod` a MOCK integration (chalice's CORS preflights) has none of, then fails
calling put_integration without them: the shim passes them as None. Everything else is moto as
it ships.
"""
from moto.apigateway.models import APIGatewayBackend

from devstack import moto_server


def _as_openapi3(api_doc: dict) -> dict:
    if "swagger" not in api_doc:
        return api_doc
    relabelled = {k: v for k, v in api_doc.items() if k != "swagger"}
    relabelled["openapi"] = "3.0.1"
    relabelled["info"] = {"description": "", **api_doc.get("info", {})}
    return relabelled


def _wrap(method):
    def accepting_swagger2(self, *args, **kwargs):
        if "api_doc" in kwargs:
            kwargs["api_doc"] = _as_openapi3(kwargs["api_doc"])
        else:  # import_rest_api(api_doc, ...) / put_rest_api(function_id, api_doc, ...)
            position = 0 if method.__name__ == "import_rest_api" else 1
            args = (*args[:position], _as_openapi3(args[position]), *args[position + 1:])
        return method(self, *args, **kwargs)
    return accepting_swagger2


APIGatewayBackend.import_rest_api = _wrap(APIGatewayBackend.import_rest_api)
APIGatewayBackend.put_rest_api = _wrap(APIGatewayBackend.put_rest_api)
_put_integration = APIGatewayBackend.put_integration


def _put_integration_without_uri(self, *args, **kwargs):
    kwargs.setdefault("uri", None)
    kwargs.setdefault("integration_method", None)
    return _put_integration(self, *args, **kwargs)


APIGatewayBackend.put_integration = _put_integration_without_uri

if __name__ == "__main__":
    moto_server.main()
