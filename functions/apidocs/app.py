"""API documentation: the OpenAPI 3 document and a page to read it (public)."""

from chalice import Chalice

from apidocs_center import api

app = Chalice(app_name="apidocs")
app.register_blueprint(api.bp)

BLUEPRINTS = (api.bp,)
