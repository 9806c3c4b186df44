"""The two calls of MLflow's basic-auth REST API the team server needs: create a user, change a password.

Plain HTTP on purpose: MLflow's own `AuthServiceClient` imports the whole server app (~10 s here)
for what is one request each.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

CREATE_USER = "/api/2.0/mlflow/users/create"
UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"


class AuthError(RuntimeError):
    pass


def _call(url: str, method: str, body: dict, username: str, password: str) -> None:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30):
            return
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise AuthError(f"not authenticated as {username}: wrong password") from None
        detail = error.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("message", detail)
        except ValueError:
            pass
        raise AuthError(f"HTTP {error.code}: {detail.strip()[:300]}") from None
    except urllib.error.URLError as error:
        raise AuthError(f"cannot reach {url}: {error.reason}") from None


def create_user(server_url: str, admin: str, admin_password: str, username: str, password: str) -> None:
    _call(
        server_url + CREATE_USER, "POST", {"username": username, "password": password}, admin, admin_password
    )


def change_password(server_url: str, username: str, current: str, new: str) -> None:
    body = {"username": username, "password": new, "current_password": current}
    _call(server_url + UPDATE_PASSWORD, "PATCH", body, username, current)
