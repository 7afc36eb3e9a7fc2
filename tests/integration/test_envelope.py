"""Every answer of the running stack uses the error envelope, the framework's own included."""
import requests

from tests.settings import HTTP_TIMEOUT


def test_unknown_routes_wrong_methods_and_any_content_type(stack):
    headers = stack.auth(stack.admin_token())
    for method, path in [("GET", "/nothing-here"), ("POST", "/tasks/x/y/z/w"), ("GET", "/")]:
        resp = requests.request(method, stack.api_url + path, headers=headers, timeout=HTTP_TIMEOUT)
        body = resp.json()
        assert resp.status_code == 404 and body["error"]["code"] == "no_such_route", body
        assert body["success"] is False and body["detail"]  # what the original ImJoy clients read
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    resp = requests.put(stack.api_url + "/tasks", headers=headers, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"
    created = requests.post(stack.api_url + "/tasks", timeout=HTTP_TIMEOUT, data='{"name": "Plain text"}',
                            headers={**headers, "Content-Type": "text/plain"})
    assert created.status_code == 201, created.text
    bad = requests.post(stack.api_url + "/tasks", timeout=HTTP_TIMEOUT, data="name=x",
                        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
