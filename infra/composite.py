"""One Chalice app with every center's blueprints: the local run and the functional tests use it.

It also plays API Gateway's part: on every route the template protects, the bank's Lambda authorizer
logic runs first and its context is put where API Gateway puts it (`requestContext.authorizer`).
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice

from infra import centers, template


def build_app() -> Chalice:
    modules = centers.load_all()
    from bank_common import authorizer, client, http
    from bank_common.errors import ApiError

    app = Chalice(app_name="bank-local")
    for module in modules.values():
        for bp in getattr(module, "BLUEPRINTS", ()):
            app.register_blueprint(bp)
    for center, module in modules.items():
        if hasattr(module, "internal"):
            client.register_local(center, module.internal)

    public = {(r.method, r.path) for r in template.api_routes() if r.public}

    @app.middleware("http")
    def emulate_gateway(event: Any, get_response: Any) -> Any:
        context = event.context
        key = (context.get("httpMethod", event.method), context.get("resourcePath", ""))
        context.pop("authorizer", None)  # only the gateway may set it
        if key not in public:
            try:
                principal = authorizer.principal_for(event.headers)
            except ApiError as exc:
                return http.error_response(exc, event.headers.get("x-request-id"))
            context["authorizer"] = principal.context()
        return get_response(event)

    # Serve the live document of every route registered here (the AWS function serves the built file).
    os.environ["OPENAPI_LIVE"] = "1"
    return app
