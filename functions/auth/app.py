"""Authentication center: credentials, logins, sessions, one-time passwords, devices, step-up; also home of
the API authorizer function.

`app.app` serves the API functions, `app.internal` and `app.internal_sessions` are invoked by the user center
(the second alone signs channel-login sessions), `app.provision_staff` and `app.deprovision_staff` by operations
only, `app.send_otp_sms` consumes the OTP queue (the SMS sender), and `app.authorizer` is the API Gateway Lambda
authorizer (it needs only the layer, the public JWKS and one read).
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
internal_sessions = api.internal_sessions
provision_staff = api.provision_staff
deprovision_staff = api.deprovision_staff
send_otp_sms = api.send_otp_sms
authorizer = _authorizer.handler
