"""The templates as AWS would see them: `sam package` (local CodeUri/ContentUri/Location → S3 URLs), then
the SAM transform, offline (samtranslator, no AWS account). For cfn-lint, the resource guard and the IAM
evaluation, which all need the template CloudFormation would really get."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

from infra.deploy import load_template

BUCKET = "bank-artifacts"


class NoManagedPolicies:
    """samtranslator asks IAM for managed policy ARNs only for names outside its bundled map; offline,
    there are none (the bundled map covers AWSLambdaBasicExecutionRole and the SAM policy templates)."""

    def load(self) -> dict[str, str]:
        return {}


def packaged(body: dict[str, Any], base: Path) -> dict[str, Any]:
    """A template as `sam package` hands it to the transform: local artifact paths become S3 URLs."""
    tpl = copy.deepcopy(body)
    for logical_id, res in tpl["Resources"].items():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "Location"):
            if isinstance(props.get(key), str):
                local = (base / props[key]).resolve()
                if not local.exists():
                    raise FileNotFoundError(f"{logical_id}.{key} {props[key]} does not exist")
                props[key] = (f"https://{BUCKET}.s3.amazonaws.com/{logical_id}.yaml" if key == "Location"
                              else f"s3://{BUCKET}/{logical_id}.zip")
    return tpl


def translate(body: dict[str, Any], base: Path) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy for this (packaged) template."""
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-east-1")
    tpl = packaged(body, base)
    if "Transform" not in tpl:
        return tpl
    result: dict[str, Any] = transform(tpl, {}, NoManagedPolicies())
    return result


@cache
def translated(path: Path) -> dict[str, Any]:
    return translate(load_template(path), path.parent)
