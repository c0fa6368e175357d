"""Authentication center: credentials, login, sessions; also home of the API authorizer function.

`app.app` serves the API functions, `app.internal` is invoked by other centers, and `app.authorizer`
is the API Gateway Lambda authorizer (it needs only the layer and the public key).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from chalice import Chalice

from auth_center import api
from bank_common import authorizer as _authorizer
from bank_common import obs

obs.init_tracing()

app = Chalice(app_name="auth")
app.register_blueprint(api.bp)

BLUEPRINTS = (api.bp,)
gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()
internal = api.internal
authorizer = _authorizer.handler
