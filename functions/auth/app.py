"""Authentication center: credentials, login, sessions; also home of the API authorizer function.

`app.app` serves the API functions, `app.internal` is invoked by other centers, and `app.authorizer`
is the API Gateway Lambda authorizer (it needs only the layer and the public key).
"""

from chalice import Chalice

from auth_center import api
from bank_common import authorizer as _authorizer
from bank_common import obs

obs.init_tracing()

app = Chalice(app_name="auth")
app.register_blueprint(api.bp)

BLUEPRINTS = (api.bp,)
internal = api.internal
authorizer = _authorizer.handler
