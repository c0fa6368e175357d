"""KYC adapters: reading the ID card (OCR) and matching a live face to it.

OCR (`OCR_PROVIDER`):
- `TextractIdOcr` (textract): Amazon Textract AnalyzeID on the uploaded images in S3 (global regions only:
  Textract is not offered in the China regions, and AnalyzeID reads US documents and passports).
- `TencentIdCardOcr` (tencent): Tencent Cloud OCR `IDCardOCR` (2018-11-19), front (name, number, birth date)
  and back (validity), the mainland service.
- `FakeIdOcr` (fake): the "image" is JSON of the fields (the local run and tests make whatever card they need).

Face (`FACE_PROVIDER`):
- `RekognitionFace` (rekognition): a Face Liveness session (CreateFaceLivenessSession; the client runs the
  check with the session id), its result (GetFaceLivenessSessionResults: confidence and reference image),
  then CompareFaces of that reference image with the ID card's photo.
- `TencentFaceId` (tencent): Tencent Cloud FaceID `LivenessRecognition` (2018-03-01): a silent-liveness
  video of the customer with the ID number and name, checked against the public security authority's photo
  of that identity (the mainland's identity verification).
- `FakeFace` (fake): the uploaded selfie is JSON {"live": bool, "similarity": number}.

Both vendors' answers are tested against recorded responses (tests/unit/test_kyc_adapters.py).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from bank_common import aws, config


@dataclass(frozen=True)
class S3Ref:
    bucket: str
    key: str

    def read(self) -> bytes:
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=self.key)["Body"]
        return bytes(body.read())


@dataclass(frozen=True)
class IdFields:
    name: str
    id_number: str
    expiry: str  # as printed: a date, a range or 长期
    birth_date: str | None = None


@dataclass(frozen=True)
class FaceResult:
    live: bool
    liveness: float  # 0-100
    similarity: float  # 0-100


class Unreadable(Exception):
    """The document could not be read (blurred, not an ID card, missing side)."""


class Ocr(Protocol):
    def read(self, front: S3Ref, back: S3Ref) -> IdFields: ...


class Face(Protocol):
    def start(self, session_token: str, output: S3Ref) -> str | None:
        """A liveness session id the client needs (or None when the selfie upload is all it takes)."""

    def verify(self, session_id: str | None, selfie: S3Ref, id_front: S3Ref, fields: IdFields) -> FaceResult: ...


# --- OCR ---------------------------------------------------------------------------------------------------

class TextractIdOcr:
    def __init__(self, client: Any = None) -> None:
        self.client = client or aws.client("textract")

    def read(self, front: S3Ref, back: S3Ref) -> IdFields:
        answer = self.client.analyze_id(DocumentPages=[{"S3Object": {"Bucket": front.bucket, "Name": front.key}}])
        documents = answer.get("IdentityDocuments") or []
        if not documents:
            raise Unreadable("no identity document found")
        fields: dict[str, str] = {}
        for field in documents[0].get("IdentityDocumentFields") or []:
            kind = field["Type"]["Text"]
            value = field.get("ValueDetection") or {}
            fields[kind] = (value.get("NormalizedValue") or {}).get("Value") or value.get("Text", "")
        name = " ".join(p for p in (fields.get("FIRST_NAME"), fields.get("LAST_NAME")) if p)
        if not name or not fields.get("DOCUMENT_NUMBER"):
            raise Unreadable("name or number missing")
        return IdFields(name=name, id_number=fields["DOCUMENT_NUMBER"],
                        expiry=fields.get("EXPIRATION_DATE", "")[:10], birth_date=fields.get("DATE_OF_BIRTH"))


class TencentIdCardOcr:
    def __init__(self, client: Any) -> None:
        self.client = client  # bank_common.tencentcloud.Client("ocr", "2018-11-19")

    def read(self, front: S3Ref, back: S3Ref) -> IdFields:
        from bank_common.tencentcloud import TencentCloudError

        try:
            face = self.client.call("IDCardOCR", {"ImageBase64": base64.b64encode(front.read()).decode(),
                                                  "CardSide": "FRONT"})
            rear = self.client.call("IDCardOCR", {"ImageBase64": base64.b64encode(back.read()).decode(),
                                                  "CardSide": "BACK"})
        except TencentCloudError as exc:
            if exc.code.startswith("FailedOperation"):
                raise Unreadable(exc.code) from exc
            raise
        if not face.get("Name") or not face.get("IdNum") or not rear.get("ValidDate"):
            raise Unreadable("a field is missing")
        return IdFields(name=str(face["Name"]), id_number=str(face["IdNum"]), expiry=str(rear["ValidDate"]),
                        birth_date=str(face.get("Birth") or "") or None)


class FakeIdOcr:
    def read(self, front: S3Ref, back: S3Ref) -> IdFields:
        try:
            data = json.loads(front.read())
        except ValueError as exc:
            raise Unreadable("not a (fake) ID card") from exc
        if not isinstance(data, dict) or not data.get("name") or not data.get("id_number"):
            raise Unreadable("not a (fake) ID card")
        return IdFields(name=str(data["name"]), id_number=str(data["id_number"]),
                        expiry=str(data.get("expiry", "长期")), birth_date=data.get("birth_date"))


# --- face --------------------------------------------------------------------------------------------------

class RekognitionFace:
    def __init__(self, client: Any = None) -> None:
        self.client = client or aws.client("rekognition")

    def start(self, session_token: str, output: S3Ref) -> str | None:
        answer = self.client.create_face_liveness_session(
            ClientRequestToken=session_token,
            Settings={"OutputConfig": {"S3Bucket": output.bucket, "S3KeyPrefix": output.key}, "AuditImagesLimit": 1})
        return str(answer["SessionId"])

    def verify(self, session_id: str | None, selfie: S3Ref, id_front: S3Ref, fields: IdFields) -> FaceResult:
        if not session_id:
            return FaceResult(False, 0.0, 0.0)
        result = self.client.get_face_liveness_session_results(SessionId=session_id)
        confidence = float(result.get("Confidence") or 0.0)
        reference = result.get("ReferenceImage") or {}
        if result.get("Status") != "SUCCEEDED" or not (reference.get("Bytes") or reference.get("S3Object")):
            return FaceResult(False, confidence, 0.0)
        source = {"Bytes": reference["Bytes"]} if reference.get("Bytes") else {"S3Object": reference["S3Object"]}
        compared = self.client.compare_faces(SourceImage=source, SimilarityThreshold=0.0, TargetImage={
            "S3Object": {"Bucket": id_front.bucket, "Name": id_front.key}})
        similarity = max((float(m.get("Similarity") or 0.0) for m in compared.get("FaceMatches") or []), default=0.0)
        return FaceResult(True, confidence, similarity)


class TencentFaceId:
    def __init__(self, client: Any) -> None:
        self.client = client  # bank_common.tencentcloud.Client("faceid", "2018-03-01")

    def start(self, session_token: str, output: S3Ref) -> str | None:
        return None  # the client records a short silent-liveness video and uploads it as the selfie

    def verify(self, session_id: str | None, selfie: S3Ref, id_front: S3Ref, fields: IdFields) -> FaceResult:
        from bank_common.tencentcloud import TencentCloudError

        try:
            answer = self.client.call("LivenessRecognition", {
                "IdCard": fields.id_number, "Name": fields.name, "LivenessType": "SILENT",
                "VideoBase64": base64.b64encode(selfie.read()).decode()})
        except TencentCloudError as exc:
            if exc.code.startswith("FailedOperation"):  # not live, no face, identity mismatch
                return FaceResult(False, 0.0, 0.0)
            raise
        similarity = float(answer.get("Sim") or 0.0)
        live = answer.get("Result") == "Success"
        return FaceResult(live, 100.0 if live else 0.0, similarity)


class FakeFace:
    def start(self, session_token: str, output: S3Ref) -> str | None:
        return "fake-liveness-" + session_token[-12:]

    def verify(self, session_id: str | None, selfie: S3Ref, id_front: S3Ref, fields: IdFields) -> FaceResult:
        try:
            data = json.loads(selfie.read())
        except ValueError:
            return FaceResult(False, 0.0, 0.0)
        live = bool(data.get("live"))
        return FaceResult(live, 99.0 if live else 10.0, float(data.get("similarity") or 0.0))


def _tencent(service: str, version: str) -> Any:
    from bank_common import tencentcloud

    settings = json.loads(config.secret("KYC_VENDOR_SETTINGS", "KYC_VENDOR_SETTINGS_PARAM"))
    return tencentcloud.Client(tencentcloud.Credentials(settings["secret_id"], settings["secret_key"]), service,
                               version, settings.get("region", "ap-beijing"))


@cache
def ocr() -> Ocr:
    kind = os.environ.get("OCR_PROVIDER", "tencent")
    if kind == "fake":
        return FakeIdOcr()
    if kind == "textract":
        return TextractIdOcr()
    return TencentIdCardOcr(_tencent("ocr", "2018-11-19"))


@cache
def face() -> Face:
    kind = os.environ.get("FACE_PROVIDER", "tencent")
    if kind == "fake":
        return FakeFace()
    if kind == "rekognition":
        return RekognitionFace()
    return TencentFaceId(_tencent("faceid", "2018-03-01"))
