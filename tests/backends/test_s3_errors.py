from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from hashdeploy.backends.s3 import describe


def client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("NoSuchBucket", 404), "s3://b/k: the bucket does not exist; check --bucket, or create it first"),
        (client_error("AccessDenied", 403), "s3://b/k: access denied to s3:PutObject; grant it to the deploying "
                                            "identity (README: IAM policy)"),
        (client_error("403", 403), "s3://b/k: access denied to s3:PutObject; grant it to the deploying identity "
                                   "(README: IAM policy)"),
        (client_error("PermanentRedirect", 301), "s3://b/k: the bucket is in another region; set --region or "
                                                 "AWS_REGION to the bucket's region"),
        (client_error("ExpiredToken", 400), "s3://b/k: the credentials were rejected (ExpiredToken); refresh them "
                                            "(e.g. `aws sso login`) and rerun"),
        (client_error("SlowDown", 503), "s3://b/k: the service kept failing (SlowDown) after retries; rerun later, "
                                        "the live site is consistent"),
        (client_error("InternalError", 500), "s3://b/k: the service kept failing (InternalError) after retries; "
                                             "rerun later, the live site is consistent"),
        (NoCredentialsError(), "no usable AWS credentials found; set AWS_PROFILE (or --profile), run `aws sso login`, "
                               "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        (EndpointConnectionError(endpoint_url="https://s3.example"), "s3://b/k: cannot reach the endpoint "
                                                                      "(EndpointConnectionError); check the network or "
                                                                      "--endpoint-url, then rerun"),
    ],
)
def test_each_failure_is_one_line_naming_where_and_the_fix(exc: Exception, expected: str) -> None:
    assert describe(exc, "s3://b/k", "s3:PutObject") == expected
