"""Trust, end to end with the real clients: SigV4 authentication (boto3, the AWS CLI, raw
requests), request ids, two accounts sharing a mesh (the service guide's sharing rules),
IAM-style policies, rate limits, the audit log and access-file reloads.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import signal
import subprocess
import time
from pathlib import Path

import botocore.exceptions
import pytest

from e2e_support import (
    ACCOUNT_ID,
    CONSUMER,
    CONSUMER_ACCOUNT_ID,
    OWNER,
    REGION,
    AwsCli,
    ControlPlane,
    access_file_text,
    http_request,
    make_client,
    server_binary,
    throwaway_ca,
)

MESHES = "/v20190125/meshes"


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def sign_at(method: str, url_path: str, host: str, body: bytes, key, when: _dt.datetime,
            region: str = REGION) -> dict[str, str]:
    """SigV4 headers for a request signed at ``when`` (botocore always signs at "now")."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    payload = hashlib.sha256(body).hexdigest()
    canonical = "\n".join([
        method, url_path, "", f"host:{host}", f"x-amz-date:{amz_date}", "",
        "host;x-amz-date", payload,
    ])
    scope = f"{date}/{region}/appmesh/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = f"AWS4{key[1]}".encode()
    for part in (date, region, "appmesh", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key[0]}/{scope}, "
                         f"SignedHeaders=host;x-amz-date, Signature={signature}",
    }


def session(key, token: str | None = None):
    """A boto3 session signing with ``key`` (and a session token)."""
    import boto3

    return boto3.session.Session(aws_access_key_id=key[0], aws_secret_access_key=key[1],
                                 aws_session_token=token, region_name=REGION)


def write_access(cp: ControlPlane, extra: str) -> None:
    """Rewrites the server's access file with ``extra`` TOML (atomically, as an operator
    should) and waits until the server says it reloaded it after SIGHUP."""
    before = cp.stderr_tail(100_000).count("access file reloaded")
    staged = cp.access_file.with_suffix(".new")
    staged.write_text(access_file_text(extra))
    staged.rename(cp.access_file)
    cp.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while cp.stderr_tail(100_000).count("access file reloaded") <= before:
        assert time.time() < deadline, "the server did not reload its access file"
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------
# Authentication
# ------------------------------------------------------------------------------------------


def test_unsigned_wrong_secret_expired_wrong_region_and_unknown_key_are_403(server):
    endpoint = server.endpoint
    host = endpoint.removeprefix("http://")

    unsigned = http_request(endpoint, "GET", MESHES, sign=None)
    assert (unsigned.status, unsigned.header("x-amzn-ErrorType")) == (403, "MissingAuthenticationTokenException")
    assert unsigned.json()["message"] == "Missing Authentication Token"

    wrong_secret = make_client(endpoint, key=(OWNER[0], "not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong_secret.list_meshes()
    assert error_code(e) == "InvalidSignatureException"
    assert "signature we calculated does not match" in str(e.value)

    old = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=20)
    expired = http_request(endpoint, "GET", MESHES, sign=None,
                           headers=sign_at("GET", MESHES, host, b"", OWNER, old))
    assert (expired.status, expired.header("x-amzn-ErrorType")) == (403, "InvalidSignatureException")
    assert "Signature expired" in expired.json()["message"]
    # The same hand-made signature at the right time is accepted: the check above is the clock.
    fresh = http_request(endpoint, "GET", MESHES, sign=None,
                         headers=sign_at("GET", MESHES, host, b"", OWNER, _dt.datetime.now(_dt.timezone.utc)))
    assert fresh.status == 200, fresh

    eu = make_client(endpoint, region_name="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        eu.list_meshes()
    assert error_code(e) == "InvalidSignatureException"
    assert "eu-west-1" in str(e.value)

    unknown = make_client(endpoint, key=("AKIDNOBODY", "whatever-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.list_meshes()
    assert error_code(e) == "UnrecognizedClientException"

    # A session token on a long-term key is refused too.
    tokened = http_request(endpoint, "GET", MESHES, headers={"X-Amz-Security-Token": "made-up"})
    assert (tokened.status, tokened.header("x-amzn-ErrorType")) == (403, "UnrecognizedClientException")


def test_every_answer_carries_a_fresh_request_id(server):
    client = make_client(server.endpoint)
    ids = set()
    answer = client.create_mesh(meshName="ids")
    ids.add(answer["ResponseMetadata"]["RequestId"])
    ids.add(client.describe_mesh(meshName="ids")["ResponseMetadata"]["RequestId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.describe_mesh(meshName="missing")
    ids.add(e.value.response["ResponseMetadata"]["RequestId"])
    for r in (http_request(server.endpoint, "GET", "/nowhere"),
              http_request(server.endpoint, "GET", MESHES, sign=None),
              http_request(server.endpoint, "GET", "/healthz", sign=None)):
        ids.add(r.header("x-amzn-RequestId"))
    assert None not in ids and "" not in ids
    assert len(ids) == 6, ids
    # The request id is in the server's log line for the request.
    assert answer["ResponseMetadata"]["RequestId"] in server.stderr_tail(200)


def test_the_aws_cli_signs_and_is_refused_with_a_wrong_secret(server, tmp_path):
    cli = AwsCli(server.endpoint, tmp_path)
    assert cli("create-mesh", "--mesh-name", "cli")["mesh"]["metadata"]["resourceOwner"] == ACCOUNT_ID
    cli.env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    err = cli.fail("list-meshes", code="InvalidSignatureException")
    assert "does not match" in err.message


def test_serve_refuses_to_start_without_an_access_file(tmp_path):
    proc = subprocess.run(
        [str(server_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert "--access-file" in proc.stderr and "--insecure-dev" in proc.stderr


def test_insecure_dev_accepts_unsigned_requests_and_warns(start_server):
    cp = start_server(extra_args=["--insecure-dev"])
    r = http_request(cp.endpoint, "PUT", MESHES, {"meshName": "dev"}, sign=None)
    assert r.status == 200, r
    assert r.json()["metadata"]["resourceOwner"] == ACCOUNT_ID
    log = cp.stderr_tail(50)
    assert "signatures are NOT checked" in log
    assert "was not authenticated" in log


# ------------------------------------------------------------------------------------------
# Two accounts, one shared mesh
# ------------------------------------------------------------------------------------------


def node_spec(port: int = 80) -> dict:
    return {"listeners": [{"portMapping": {"port": port, "protocol": "http"}}],
            "serviceDiscovery": {"dns": {"hostname": "b.apps.local"}}}


def test_shared_mesh_rules_with_two_accounts(server, tmp_path):
    owner = make_client(server.endpoint)
    consumer = make_client(server.endpoint, key=CONSUMER)
    owner.create_mesh(meshName="shared")
    owner.create_mesh(meshName="private")
    owner.create_virtual_node(meshName="shared", virtualNodeName="owners", spec=node_spec())
    consumer.create_mesh(meshName="shared")  # a mesh of the same name in the consumer's account

    # Before sharing, the consumer sees only its own mesh called "shared".
    names = [(m["meshName"], m["meshOwner"]) for m in consumer.list_meshes()["meshes"]]
    assert names == [("shared", CONSUMER_ACCOUNT_ID)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        consumer.describe_mesh(meshName="shared", meshOwner=ACCOUNT_ID)
    assert error_code(e) == "NotFoundException" and "not shared" in str(e.value)

    write_access(server, f'[[shares]]\nowner = "{ACCOUNT_ID}"\nmesh = "shared"\nconsumers = ["{CONSUMER_ACCOUNT_ID}"]\n')

    listed = [(m["meshName"], m["meshOwner"]) for m in consumer.list_meshes()["meshes"]]
    assert listed == [("shared", ACCOUNT_ID), ("shared", CONSUMER_ACCOUNT_ID)]
    # Paging walks both, one per page.
    first = consumer.list_meshes(limit=1)
    second = consumer.list_meshes(limit=1, nextToken=first["nextToken"])
    assert [m["meshOwner"] for m in first["meshes"] + second["meshes"]] == [ACCOUNT_ID, CONSUMER_ACCOUNT_ID]
    assert "nextToken" not in second

    # The consumer creates its own node in the owner's mesh: the ARN carries the mesh owner.
    made = consumer.create_virtual_node(meshName="shared", meshOwner=ACCOUNT_ID,
                                        virtualNodeName="consumers", spec=node_spec(),
                                        tags=[{"key": "team", "value": "consumer"}])["virtualNode"]
    meta = made["metadata"]
    assert (meta["meshOwner"], meta["resourceOwner"]) == (ACCOUNT_ID, CONSUMER_ACCOUNT_ID)
    assert meta["arn"] == f"arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:mesh/shared/virtualNode/consumers"
    # The owner sees it in its mesh, made by the consumer; both see all nodes.
    seen = {n["virtualNodeName"]: n["resourceOwner"] for n in owner.list_virtual_nodes(meshName="shared")["virtualNodes"]}
    assert seen == {"consumers": CONSUMER_ACCOUNT_ID, "owners": ACCOUNT_ID}
    assert len(consumer.list_virtual_nodes(meshName="shared", meshOwner=ACCOUNT_ID)["virtualNodes"]) == 2

    def forbidden(call, *words):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "ForbiddenException", e.value
        for w in words:
            assert w in str(e.value)

    # Nobody modifies another account's resources, the owner included (O3).
    forbidden(lambda: owner.update_virtual_node(meshName="shared", virtualNodeName="consumers", spec=node_spec(81)),
              "created by account " + CONSUMER_ACCOUNT_ID)
    forbidden(lambda: consumer.update_virtual_node(meshName="shared", meshOwner=ACCOUNT_ID,
                                                   virtualNodeName="owners", spec=node_spec(81)))
    # The consumer cannot delete what the owner made (O1/O2), nor the mesh.
    forbidden(lambda: consumer.delete_virtual_node(meshName="shared", meshOwner=ACCOUNT_ID, virtualNodeName="owners"))
    shared = consumer.describe_mesh(meshName="shared", meshOwner=ACCOUNT_ID)["mesh"]["metadata"]
    assert (shared["meshOwner"], shared["resourceOwner"]) == (ACCOUNT_ID, ACCOUNT_ID)
    forbidden(lambda: consumer.tag_resource(resourceArn=shared["arn"], tags=[{"key": "k", "value": "v"}]))
    # Only owners create virtual gateways (O5).
    forbidden(lambda: consumer.create_virtual_gateway(
        meshName="shared", meshOwner=ACCOUNT_ID, virtualGatewayName="gw",
        spec={"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]}), "only the mesh owner")
    # Tags belong to the account that created the resource (O8).
    owners_arn = f"arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:mesh/shared/virtualNode/owners"
    forbidden(lambda: consumer.list_tags_for_resource(resourceArn=owners_arn))
    forbidden(lambda: consumer.tag_resource(resourceArn=owners_arn, tags=[{"key": "k", "value": "v"}]))
    forbidden(lambda: owner.list_tags_for_resource(resourceArn=meta["arn"]))
    assert consumer.list_tags_for_resource(resourceArn=meta["arn"])["tags"] == [{"key": "team", "value": "consumer"}]
    # The consumer updates its own node.
    updated = consumer.update_virtual_node(meshName="shared", meshOwner=ACCOUNT_ID, virtualNodeName="consumers",
                                           spec=node_spec(81))["virtualNode"]
    assert updated["metadata"]["version"] == 2
    # The unshared mesh stays invisible.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        consumer.list_virtual_nodes(meshName="private", meshOwner=ACCOUNT_ID)
    assert error_code(e) == "NotFoundException"

    # Unsharing: the former consumer loses access; its resources stay, and the owner may
    # delete them (O3, O9).
    write_access(server, "")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        consumer.describe_virtual_node(meshName="shared", meshOwner=ACCOUNT_ID, virtualNodeName="consumers")
    assert error_code(e) == "NotFoundException"
    assert [m["meshOwner"] for m in consumer.list_meshes()["meshes"]] == [CONSUMER_ACCOUNT_ID]
    gone = owner.delete_virtual_node(meshName="shared", virtualNodeName="consumers")["virtualNode"]
    assert gone["metadata"]["resourceOwner"] == CONSUMER_ACCOUNT_ID

    # The same rules through the AWS CLI.
    write_access(server, f'[[shares]]\nowner = "{ACCOUNT_ID}"\nmesh = "shared"\nconsumers = ["{CONSUMER_ACCOUNT_ID}"]\n')
    cli = AwsCli(server.endpoint, tmp_path)
    cli.env["AWS_ACCESS_KEY_ID"], cli.env["AWS_SECRET_ACCESS_KEY"] = CONSUMER
    out = cli("create-virtual-node", "--mesh-name", "shared", "--mesh-owner", ACCOUNT_ID,
              "--virtual-node-name", "by-cli", "--spec", json.dumps(node_spec()))
    assert out["virtualNode"]["metadata"]["resourceOwner"] == CONSUMER_ACCOUNT_ID
    cli.fail("delete-virtual-node", "--mesh-name", "shared", "--mesh-owner", ACCOUNT_ID,
             "--virtual-node-name", "owners", code="ForbiddenException")


# ------------------------------------------------------------------------------------------
# Policies, rate limits, audit, reloads
# ------------------------------------------------------------------------------------------

READER = ("AKIDPYREADER", "reader-secret-key")


def test_policies_allow_deny_and_default_deny(server):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["appmesh:Describe*", "appmesh:List*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "appmesh:*", "Resource": f"arn:aws:appmesh:*:{ACCOUNT_ID}:mesh/team-*"},
            {"Effect": "Deny", "Action": "appmesh:DeleteMesh", "Resource": "*"},
        ],
    }
    write_access(server, f"""
[[keys]]
access_key_id = "{READER[0]}"
secret_access_key = "{READER[1]}"
account = "{ACCOUNT_ID}"
principal = "reader"
policies = ['''{json.dumps(policy)}''']
""")
    admin = make_client(server.endpoint)
    reader = make_client(server.endpoint, key=READER)
    admin.create_mesh(meshName="prod")
    assert [m["meshName"] for m in reader.list_meshes()["meshes"]] == ["prod"]
    reader.describe_mesh(meshName="prod")
    reader.create_mesh(meshName="team-a")  # allowed by the resource pattern
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.create_mesh(meshName="prod2")
    assert error_code(e) == "ForbiddenException"
    message = e.value.response["Error"]["Message"]
    assert "appmesh:CreateMesh" in message and "user/reader" in message and "no identity-based policy allows" in message
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.delete_mesh(meshName="team-a")
    assert error_code(e) == "ForbiddenException"
    assert "explicit deny" in e.value.response["Error"]["Message"]
    admin.delete_mesh(meshName="team-a")  # a key without policies has the account's authority


def test_rate_limit_answers_429(server):
    write_access(server, f"""
[[keys]]
access_key_id = "{READER[0]}"
secret_access_key = "{READER[1]}"
account = "{ACCOUNT_ID}"
principal = "limited"
requests_per_second = 2
burst = 3
""")
    limited = make_client(server.endpoint, key=READER)
    codes = []
    for _ in range(8):
        try:
            limited.list_meshes()
            codes.append("ok")
        except botocore.exceptions.ClientError as e:
            codes.append(e.response["Error"]["Code"])
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert codes[:3] == ["ok"] * 3
    assert "TooManyRequestsException" in codes
    # Other principals are not slowed down by it.
    for _ in range(8):
        make_client(server.endpoint).list_meshes()
    time.sleep(1.1)
    limited.list_meshes()  # the bucket refills


def test_audit_log_records_each_mutating_call(start_server, tmp_path):
    audit = tmp_path / "audit.log"
    cp = start_server(extra_args=["--audit-log", str(audit)])
    owner = make_client(cp.endpoint)
    consumer = make_client(cp.endpoint, key=CONSUMER)
    created = owner.create_mesh(meshName="audited")
    owner.update_mesh(meshName="audited", spec={"egressFilter": {"type": "ALLOW_ALL"}})
    owner.list_meshes()  # read-only: not audited
    with pytest.raises(botocore.exceptions.ClientError):
        consumer.delete_mesh(meshName="audited")  # the consumer has no mesh of that name
    owner.tag_resource(resourceArn=created["mesh"]["metadata"]["arn"], tags=[{"key": "a", "value": "b"}])
    owner.delete_mesh(meshName="audited")
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [r["eventName"] for r in records] == ["CreateMesh", "UpdateMesh", "DeleteMesh", "TagResource", "DeleteMesh"]
    arn = f"arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:mesh/audited"
    for i, r in enumerate(records):
        assert r["eventSource"] == "appmesh.amazonaws.com" and r["awsRegion"] == REGION
        assert r["resources"][0]["ARN"] == (arn if i != 2 else arn.replace(ACCOUNT_ID, CONSUMER_ACCOUNT_ID))
        assert r["sourceIPAddress"] == "127.0.0.1"
        assert r["requestID"] and r["eventTime"].endswith("Z")
    assert records[0]["requestID"] == created["ResponseMetadata"]["RequestId"]
    assert records[0]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/owner"
    refused = records[2]
    assert refused["userIdentity"]["accountId"] == CONSUMER_ACCOUNT_ID
    assert refused["errorCode"] == "NotFoundException"
    assert refused["additionalEventData"]["httpStatus"] == 404
    assert "errorCode" not in records[0]

    # Rotation: rename the file away; the log starts a new one at the same path.
    audit.rename(tmp_path / "audit.log.1")
    time.sleep(1.5)
    owner.create_mesh(meshName="after-rotation")
    assert [json.loads(line)["eventName"] for line in audit.read_text().splitlines()] == ["CreateMesh"]


def test_access_file_reloads_on_change_and_keeps_the_last_good_version(server):
    newcomer = ("AKIDPYNEWCOMER", "newcomer-secret-key")
    client = make_client(server.endpoint, key=newcomer)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_meshes()
    assert error_code(e) == "UnrecognizedClientException"
    # Changed without a signal: picked up within a couple of seconds.
    server.access_file.write_text(access_file_text(f"""
[[keys]]
access_key_id = "{newcomer[0]}"
secret_access_key = "{newcomer[1]}"
account = "{ACCOUNT_ID}"
principal = "newcomer"
"""))
    deadline = time.time() + 5
    while True:
        try:
            client.list_meshes()
            break
        except botocore.exceptions.ClientError:
            assert time.time() < deadline, "the changed access file was not picked up"
            time.sleep(0.2)
    # A broken file is refused and the last good one stays in force.
    server.access_file.write_text("[[keys]]\nthis is not toml")
    server.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    client.list_meshes()
    assert "access file not reloaded" in server.stderr_tail(50)


# ------------------------------------------------------------------------------------------
# TLS
# ------------------------------------------------------------------------------------------


def test_boto3_and_the_aws_cli_work_over_tls_with_a_test_ca(start_server, tmp_path):
    ca, cert, key = throwaway_ca(tmp_path)
    cp = start_server(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    assert cp.endpoint.startswith("https://127.0.0.1:"), cp.ready_line

    client = make_client(cp.endpoint)
    trusted = boto3_client_verifying(cp.endpoint, ca)
    made = trusted.create_mesh(meshName="over-tls")["mesh"]
    assert made["metadata"]["resourceOwner"] == ACCOUNT_ID

    # Without the CA the certificate is refused by the client.
    with pytest.raises(botocore.exceptions.SSLError):
        client.list_meshes()

    cli = AwsCli(cp.endpoint, tmp_path / "cli")
    cli.env["AWS_CA_BUNDLE"] = str(ca)
    assert [m["meshName"] for m in cli("list-meshes")["meshes"]] == ["over-tls"]

    # Plain HTTP to the TLS port gets no API answer.
    plain = cp.endpoint.replace("https://", "http://")
    with pytest.raises(Exception):
        http_request(plain, "GET", MESHES)


def boto3_client_verifying(endpoint: str, ca: Path):
    return session(OWNER).client("appmesh", endpoint_url=endpoint, verify=str(ca))


# ------------------------------------------------------------------------------------------
# STS: the control plane as the STS of its own accounts
# ------------------------------------------------------------------------------------------


def test_assume_role_through_the_control_planes_sts(server, tmp_path):
    role_policy = {"Statement": [
        {"Effect": "Allow", "Action": ["appmesh:List*", "appmesh:Describe*", "appmesh:CreateMesh"], "Resource": "*"},
    ]}
    write_access(server, f"""
[[roles]]
name = "deployer"
account = "{ACCOUNT_ID}"
trusted = ["arn:aws:iam::{ACCOUNT_ID}:user/owner"]
external_id = "ci-pipeline"
policies = ['''{json.dumps(role_policy)}''']
""")
    sts = session(OWNER).client("sts", endpoint_url=server.endpoint)
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"]) == (ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:user/owner")
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/deployer"
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="pipeline-42", ExternalId="ci-pipeline")
    assert creds["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/deployer/pipeline-42"
    c = creds["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")

    as_role = session((c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"])
    mesh = as_role.client("appmesh", endpoint_url=server.endpoint).create_mesh(meshName="by-role")["mesh"]
    assert mesh["metadata"]["resourceOwner"] == ACCOUNT_ID
    assert as_role.client("sts", endpoint_url=server.endpoint).get_caller_identity()["Arn"].endswith("assumed-role/deployer/pipeline-42")
    # The role's policy applies to the session.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_role.client("appmesh", endpoint_url=server.endpoint).delete_mesh(meshName="by-role")
    assert error_code(e) == "ForbiddenException" and "assumed-role/deployer/pipeline-42" in str(e.value)
    # A session token that was tampered with is not accepted.
    forged = session((c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"][:-2] + "AA")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        forged.client("appmesh", endpoint_url=server.endpoint).list_meshes()
    assert error_code(e) == "UnrecognizedClientException"

    # Wrong external id, untrusted principal: AccessDenied, as STS says it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="x1", ExternalId="guess")
    assert error_code(e) == "AccessDenied"
    consumer_sts = session(CONSUMER).client("sts", endpoint_url=server.endpoint)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        consumer_sts.assume_role(RoleArn=role_arn, RoleSessionName="x2", ExternalId="ci-pipeline")
    assert error_code(e) == "AccessDenied"

    # The AWS CLI's role chain: a profile with role_arn and source_profile.
    cli = AwsCli(server.endpoint, tmp_path)
    config = tmp_path / "role-config"
    config.write_text(
        f"[profile base]\nregion = {REGION}\naws_access_key_id = {OWNER[0]}\naws_secret_access_key = {OWNER[1]}\n\n"
        f"[profile deploy]\nregion = {REGION}\nrole_arn = {role_arn}\nsource_profile = base\n"
        f"external_id = ci-pipeline\nrole_session_name = from-cli\nendpoint_url = {server.endpoint}\n"
    )
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        cli.env.pop(k)
    # HOME: the CLI caches assumed-role sessions under ~/.aws/cli/cache.
    cli.env.update({"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "deploy", "HOME": str(tmp_path)})
    listed = cli("list-meshes")["meshes"]
    assert [m["meshName"] for m in listed] == ["by-role"]
