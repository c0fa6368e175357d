"""API documentation: the OpenAPI 3 document and a page to read it (public)."""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from chalice import Chalice

from apidocs_center import api

app = Chalice(app_name="apidocs", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()
