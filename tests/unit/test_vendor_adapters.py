"""The vendor adapters against recorded vendor responses (tests/unit/recorded/): the mainland SMS, OCR and
identity-verification vendor (Tencent Cloud API 3.0: its TC3-HMAC-SHA256 signature checked against one
recorded from the vendor's own SDK), WeChat (mini program and official account), Alipay (RSA2 both ways), and
Amazon Textract / Rekognition through botocore's Stubber. The fakes are tested where they are used."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bank_common import sms, tencentcloud
from bank_common.tencentcloud import Credentials, TencentCloudError
from user_center import channels, kyc_adapters
from user_center.kyc_adapters import IdFields, S3Ref

RECORDED = Path(__file__).with_name("recorded")


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class Answer:
    def __init__(self, data: bytes, status: int = 200) -> None:
        self.data, self.status = data, status


class FakeHttp:
    """Answers the recorded responses in turn and keeps what was sent."""

    def __init__(self, *answers: bytes, status: int = 200) -> None:
        self.answers, self.status, self.sent = list(answers), status, []

    def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        self.sent.append({"method": method, "url": url, **kwargs})
        return Answer(self.answers.pop(0), self.status)


# --- Tencent Cloud API 3.0 ----------------------------------------------------------------------------------

SMS_PAYLOAD = ('{"PhoneNumberSet":["+8613800000000"],"SmsSdkAppId":"1400006666","SignName":"农商银行",'
               '"TemplateId":"1110","TemplateParamSet":["123456","5","注册"]}')


def test_tc3_signature_matches_the_vendors_sdk() -> None:
    """Recorded with tencentcloud-sdk-python-common 3.1.195 (AbstractClient._get_tc3_signature) for these inputs."""
    headers = tencentcloud.sign(Credentials("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
                                "sms", "sms.tencentcloudapi.com", "SendSms", SMS_PAYLOAD, 1735689600)
    assert headers["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2025-01-01/sms/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=299d043e98813ee82a936042913de5bf5c215f16db2e9ea31ead4bde65335cfc")
    assert headers["X-TC-Timestamp"] == "1735689600" and headers["X-TC-Action"] == "SendSms"


def tencent(service: str, version: str, http: FakeHttp) -> tencentcloud.Client:
    return tencentcloud.Client(Credentials("AKIDtest", "secret"), service, version, "ap-beijing", http=http,
                               clock=lambda: 1735689600)


SMS_SETTINGS = {"secret_id": "AKIDtest", "secret_key": "secret", "sdk_app_id": "1400006666", "sign_name": "农商银行",
                "templates": {"otp": "1110", "welcome": "1111"}}


def test_tencent_sms_sends_a_template_with_its_parameters() -> None:
    http = FakeHttp(recorded("tencent_sms_send_ok.json"))
    gateway = sms.TencentSmsGateway(SMS_SETTINGS, tencent("sms", "2021-01-11", http))
    serial = gateway.send("13800000000", sms.SmsMessage.of("otp", code="123456", minutes="5", purpose="register"))
    assert serial == "5000:1045710669157053657849499619"
    sent = http.sent[0]
    assert sent["url"] == "https://sms.tencentcloudapi.com/"
    assert json.loads(sent["body"]) == {"PhoneNumberSet": ["+8613800000000"], "SmsSdkAppId": "1400006666",
                                        "SignName": "农商银行", "TemplateId": "1110",
                                        "TemplateParamSet": ["123456", "5", "注册"]}
    assert sent["headers"]["X-TC-Version"] == "2021-01-11" and sent["headers"]["X-TC-Action"] == "SendSms"


def test_tencent_sms_refusals_and_errors() -> None:
    limited = sms.TencentSmsGateway(SMS_SETTINGS, tencent("sms", "2021-01-11",
                                                          FakeHttp(recorded("tencent_sms_send_limited.json"))))
    with pytest.raises(sms.SmsRejected, match="PhoneNumberDailyLimit"):
        limited.send("13800000000", sms.SmsMessage.of("welcome"))
    broken = sms.TencentSmsGateway(SMS_SETTINGS, tencent("sms", "2021-01-11",
                                                         FakeHttp(recorded("tencent_auth_failure.json"))))
    with pytest.raises(TencentCloudError) as failure:
        broken.send("13800000000", sms.SmsMessage.of("welcome"))
    assert failure.value.code == "AuthFailure.SignatureFailure"


class Stored(S3Ref):
    """An S3 object whose bytes the test gives (no S3 here)."""

    def __new__(cls, data: bytes) -> Stored:
        ref = super().__new__(cls)
        object.__setattr__(ref, "_data", data)
        return ref

    def __init__(self, data: bytes) -> None:
        super().__init__("kyc-bucket", "kyc/c1/kyc_1/part")

    def read(self) -> bytes:
        return bytes(self._data)  # type: ignore[attr-defined]


def test_tencent_id_card_ocr_reads_both_sides() -> None:
    http = FakeHttp(recorded("tencent_idcard_front.json"), recorded("tencent_idcard_back.json"))
    fields = kyc_adapters.TencentIdCardOcr(tencent("ocr", "2018-11-19", http)).read(Stored(b"front"), Stored(b"back"))
    assert fields == IdFields(name="李明", id_number="440524198701010014", expiry="2018.07.21-2038.07.21",
                              birth_date="1987/1/1")
    assert [json.loads(s["body"])["CardSide"] for s in http.sent] == ["FRONT", "BACK"]
    assert json.loads(http.sent[0]["body"])["ImageBase64"] == base64.b64encode(b"front").decode()
    blurred = kyc_adapters.TencentIdCardOcr(tencent("ocr", "2018-11-19",
                                                    FakeHttp(recorded("tencent_idcard_blurred.json"))))
    with pytest.raises(kyc_adapters.Unreadable):
        blurred.read(Stored(b"x"), Stored(b"y"))


def test_tencent_faceid_liveness_with_the_public_security_check() -> None:
    card = IdFields("李明", "440524198701010014", "长期")
    http = FakeHttp(recorded("tencent_faceid_liveness_ok.json"))
    result = kyc_adapters.TencentFaceId(tencent("faceid", "2018-03-01", http)).verify(None, Stored(b"video"),
                                                                                     Stored(b"front"), card)
    assert result.live and result.similarity == 86.74
    body = json.loads(http.sent[0]["body"])
    assert (body["IdCard"], body["Name"], body["LivenessType"]) == ("440524198701010014", "李明", "SILENT")
    low = kyc_adapters.TencentFaceId(tencent("faceid", "2018-03-01",
                                             FakeHttp(recorded("tencent_faceid_low_similarity.json"))))
    assert low.verify(None, Stored(b"video"), Stored(b"front"), card).live is False


# --- WeChat -------------------------------------------------------------------------------------------------

def test_wechat_mini_program_code_to_openid_and_unionid() -> None:
    http = FakeHttp(recorded("wechat_jscode2session_ok.json"))
    found = channels.WeChatMiniProgram("wx1234567890abcdef", "app-secret", http).exchange("wechat_mp", "0a3Xk1")
    assert found == channels.ChannelIdentity("wechat_mp", "oFw7_5Ue2T6KxvCv0V3Wl6vD6d0c",
                                             "o6_bmasdasdsad6_2sgVt7hMZOPfL")
    url = urlsplit(http.sent[0]["url"])
    assert (url.netloc, url.path) == ("api.weixin.qq.com", "/sns/jscode2session")
    assert parse_qs(url.query) == {"appid": ["wx1234567890abcdef"], "secret": ["app-secret"], "js_code": ["0a3Xk1"],
                                   "grant_type": ["authorization_code"]}
    with pytest.raises(channels.CodeRejected):
        channels.WeChatMiniProgram("wx1", "s", FakeHttp(recorded("wechat_jscode2session_invalid_code.json"))).exchange(
            "wechat_mp", "used-code")
    with pytest.raises(channels.ChannelUnavailable):
        channels.WeChatMiniProgram("wx1", "s", FakeHttp(recorded("wechat_busy.json"))).exchange("wechat_mp", "c")
    with pytest.raises(channels.ChannelUnavailable):
        channels.WeChatMiniProgram("wx1", "s", FakeHttp(b"<html>bad gateway</html>", status=502)).exchange(
            "wechat_mp", "c")


def test_wechat_official_account_oauth2() -> None:
    http = FakeHttp(recorded("wechat_oauth2_access_token_ok.json"))
    found = channels.WeChatOfficialAccount("wxoa", "oa-secret", http).exchange("wechat_oa", "061Abc")
    assert found.subject == "oLVPpjqs9BhvzwPj5A-vTYAX3GLc" and found.union_id == "o6_bmasdasdsad6_2sgVt7hMZOPfL"
    assert urlsplit(http.sent[0]["url"]).path == "/sns/oauth2/access_token"


# --- Alipay -------------------------------------------------------------------------------------------------

def rsa_pair() -> tuple[Any, str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, private, public


def rsa2(key: Any, text: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_answer(alipay_key: Any, name: str) -> bytes:
    """The recorded answer, signed as Alipay signs it: RSA2 over the exact text of the response member."""
    raw = recorded(name).decode().strip()
    member = raw[raw.index(":") + 1:raw.rindex(',"sign"')]
    return raw.replace('"SIGNATURE"', json.dumps(rsa2(alipay_key, member))).encode()


def test_alipay_signs_the_request_and_verifies_the_answer() -> None:
    app_key, app_private, app_public = rsa_pair()
    alipay_key, _, alipay_public = rsa_pair()
    http = FakeHttp(signed_answer(alipay_key, "alipay_oauth_token_ok.txt"))
    adapter = channels.Alipay("2021000000000001", app_private, alipay_public, http, clock=lambda: 1795849000)
    assert adapter.exchange("alipay_mp", "4b203fe6c11548bcabd8da5bb087a83b") == \
        channels.ChannelIdentity("alipay_mp", "2088102150477652")
    sent = {k: v[0] for k, v in parse_qs(http.sent[0]["body"].decode()).items()}
    assert sent["method"] == "alipay.system.oauth.token" and sent["sign_type"] == "RSA2"
    assert sent["timestamp"] == "2026-11-28 14:56:40"  # Asia/Shanghai
    assert sent["code"] == "4b203fe6c11548bcabd8da5bb087a83b"
    assert channels.Alipay.signing_string(sent).startswith("app_id=2021000000000001&charset=utf-8&code=")
    # The request's signature is verifiable with the app's public key (what Alipay holds).
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    serialization.load_pem_public_key(app_public.encode()).verify(  # type: ignore[union-attr,call-arg]
        base64.b64decode(sent["sign"]), channels.Alipay.signing_string(sent).encode(), padding.PKCS1v15(),
        hashes.SHA256())
    del app_key


def test_alipay_refuses_a_tampered_answer_and_reports_errors() -> None:
    _, app_private, _ = rsa_pair()
    alipay_key, _, alipay_public = rsa_pair()
    tampered = signed_answer(alipay_key, "alipay_oauth_token_ok.txt").replace(b"2088102150477652", b"2088999999999999")
    with pytest.raises(channels.ChannelUnavailable, match="signature"):
        channels.Alipay("2021000000000001", app_private, alipay_public, FakeHttp(tampered)).exchange("alipay_mp", "c1")
    refused = FakeHttp(recorded("alipay_oauth_token_invalid_code.txt"))
    with pytest.raises(channels.CodeRejected):
        channels.Alipay("2021000000000001", app_private, alipay_public, refused).exchange("alipay_mp", "used")


# --- AWS: Textract and Rekognition (botocore Stubber) ----------------------------------------------------------

def stubbed(service: str) -> tuple[Any, Any]:
    import botocore.session
    from botocore.stub import Stubber

    client = botocore.session.get_session().create_client(service, region_name="us-east-1",
                                                          aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_textract_analyze_id() -> None:
    client, stub = stubbed("textract")
    stub.add_response("analyze_id", json.loads(recorded("textract_analyze_id.json")),
                      {"DocumentPages": [{"S3Object": {"Bucket": "kyc-bucket", "Name": "kyc/c1/kyc_1/id_front"}}]})
    with stub:
        fields = kyc_adapters.TextractIdOcr(client).read(S3Ref("kyc-bucket", "kyc/c1/kyc_1/id_front"),
                                                         S3Ref("kyc-bucket", "kyc/c1/kyc_1/id_back"))
    assert fields == IdFields("MARIA GARCIA", "440524198701010014", "2035-01-20", "1987-01-01T00:00:00")
    client, stub = stubbed("textract")
    stub.add_response("analyze_id", {"IdentityDocuments": [], "DocumentMetadata": {"Pages": 1}})
    with stub, pytest.raises(kyc_adapters.Unreadable):
        kyc_adapters.TextractIdOcr(client).read(S3Ref("kyc-bucket", "k"), S3Ref("kyc-bucket", "k2"))


def test_rekognition_liveness_then_compare_faces() -> None:
    client, stub = stubbed("rekognition")
    stub.add_response("create_face_liveness_session", {"SessionId": "0f959dbb-37cc-45d8-a08d-dc42cce85fa8"},
                      {"ClientRequestToken": "kyc_1", "Settings": {"OutputConfig": {
                          "S3Bucket": "kyc-bucket", "S3KeyPrefix": "kyc/c1/kyc_1/liveness/"}, "AuditImagesLimit": 1}})
    stub.add_response("get_face_liveness_session_results", json.loads(recorded("rekognition_liveness_results.json")),
                      {"SessionId": "0f959dbb-37cc-45d8-a08d-dc42cce85fa8"})
    stub.add_response("compare_faces", json.loads(recorded("rekognition_compare_faces.json")), {
        "SourceImage": {"S3Object": {"Bucket": "kyc-bucket", "Name": "kyc/c1/kyc_1/liveness/reference.jpg"}},
        "TargetImage": {"S3Object": {"Bucket": "kyc-bucket", "Name": "kyc/c1/kyc_1/id_front"}},
        "SimilarityThreshold": 0.0})
    face = kyc_adapters.RekognitionFace(client)
    with stub:
        session = face.start("kyc_1", S3Ref("kyc-bucket", "kyc/c1/kyc_1/liveness/"))
        result = face.verify(session, S3Ref("kyc-bucket", "kyc/c1/kyc_1/selfie"),
                             S3Ref("kyc-bucket", "kyc/c1/kyc_1/id_front"), IdFields("a", "b", "c"))
    assert result == kyc_adapters.FaceResult(True, 98.63, 97.8)
    client, stub = stubbed("rekognition")
    session = "1f959dbb-37cc-45d8-a08d-dc42cce85fa8"
    stub.add_response("get_face_liveness_session_results", {"SessionId": session, "Status": "FAILED",
                                                             "Confidence": 12.0})
    with stub:
        assert kyc_adapters.RekognitionFace(client).verify(session, S3Ref("kyc-bucket", "k"), S3Ref("kyc-bucket", "k"),
                                                           IdFields("a", "b", "c")).live is False
