"""A minimal client of Tencent Cloud API 3.0, the mainland vendor behind the SMS, ID-card OCR and face
adapters (AWS's SMS, Textract and Rekognition are not offered in the China regions).

Requests are JSON POSTs to `https://<service>.tencentcloudapi.com/` signed with TC3-HMAC-SHA256, as the
vendor documents it ("Signature v3"): a canonical request over the method, path, query, the signed headers
(content-type, host, x-tc-action) and the payload's SHA-256; a string to sign with the timestamp and the
credential scope `<date>/<service>/tc3_request`; the key chain HMAC("TC3"+SecretKey, date) → service →
"tc3_request". The signed headers are content-type and host, as the vendor's SDKs sign them (a unit test
checks a signature recorded from tencentcloud-sdk-python-common's own signer). Every answer is
`{"Response": {..., "RequestId"}}`, with `Response.Error` {Code, Message} on failure: `TencentCloudError`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CONTENT_TYPE = "application/json"


class TencentCloudError(Exception):
    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        self.code, self.message, self.request_id = code, message, request_id
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Credentials:
    secret_id: str
    secret_key: str


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign(credentials: Credentials, service: str, host: str, action: str, payload: str,
         timestamp: int) -> dict[str, str]:
    """The headers of a signed request (TC3-HMAC-SHA256)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed_headers = "content-type;host"  # what the vendor's own SDKs sign
    canonical_headers = f"content-type:{CONTENT_TYPE}\nhost:{host}\n"
    canonical_request = "\n".join(["POST", "/", "", canonical_headers, signed_headers,
                                   hashlib.sha256(payload.encode()).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + credentials.secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {"Authorization": f"TC3-HMAC-SHA256 Credential={credentials.secret_id}/{scope}, "
                             f"SignedHeaders={signed_headers}, Signature={signature}",
            "Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": action, "X-TC-Timestamp": str(timestamp)}


class Client:
    """One service's client: `call(action, params)` → the Response object (without RequestId)."""

    def __init__(self, credentials: Credentials, service: str, version: str, region: str = "ap-beijing",
                 http: Any = None, clock: Any = time.time, timeout: float = 5.0) -> None:
        self.credentials, self.service, self.version, self.region = credentials, service, version, region
        self.host = f"{service}.tencentcloudapi.com"
        self._http, self._clock, self._timeout = http, clock, timeout

    def _pool(self) -> Any:
        if self._http is None:
            import urllib3

            self._http = urllib3.PoolManager(retries=urllib3.Retry(total=2, backoff_factor=0.2))
        return self._http

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(params, separators=(",", ":"), ensure_ascii=False)
        headers = sign(self.credentials, self.service, self.host, action, payload, int(self._clock()))
        headers.update({"X-TC-Version": self.version, "X-TC-Region": self.region})
        response = self._pool().request("POST", f"https://{self.host}/", body=payload.encode(), headers=headers,
                                        timeout=self._timeout)
        data = json.loads(response.data or b"{}")
        body = data.get("Response") or {}
        error = body.get("Error")
        if error:
            raise TencentCloudError(str(error.get("Code")), str(error.get("Message")), str(body.get("RequestId", "")))
        if response.status >= 400:
            raise TencentCloudError(f"HTTP{response.status}", "unexpected HTTP status")
        return dict(body)
