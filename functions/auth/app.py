"""Authentication center: credentials, login, sessions; also home of the API authorizer function.

`app.app` serves the API functions, `app.internal` is invoked by other centers, `app.provision_staff` by
operations only, and `app.authorizer` is the API Gateway Lambda authorizer (it needs only the layer and the
public key).
"""

import gc

gc.disable()  # no collections while the function initialises (docs/decisions/0008)

from chalice import Chalice

from auth_center import api
from bank_common import authorizer as _authorizer
from bank_common import obs

obs.init_tracing()

app = Chalice(app_name="auth", configure_logs=False)  # logs go through bank_common.obs only
app.register_blueprint(api.bp)

gc.freeze()  # what initialisation built lives as long as the process: collections skip it
gc.enable()
internal = api.internal
provision_staff = api.provision_staff
authorizer = _authorizer.handler
