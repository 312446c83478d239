"""Product images at stable URLs (#15, 7): CloudFront in front of the media bucket's public prefix
(origin access control; the bucket stays private), and catalog's storage building unsigned URLs on
that address, under exactly the prefix the bucket lets CloudFront read. The distribution carries no
checkov skip (#16): a certificate of its own with TLS 1.2 at least, a WAF web ACL and standard
logs, all three checked here."""

from __future__ import annotations

import copy
import fnmatch
import importlib
import re
import sys

import pytest
from storages.backends.s3 import S3Storage

from apps.catalog.models import ProductImage
from tests.deploy.templates import TEMPLATES, ec2_environment, load, service_parameters, task_containers

DISTRIBUTION_ARN = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${MediaDistribution}"}


def cdn_read_problems(platform: dict) -> list[str]:
    """What CloudFront may read: only objects under catalog/products/, only as this distribution."""
    problems = []
    statements = platform["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        if statement.get("Principal") != {"Service": "cloudfront.amazonaws.com"}:
            problems.append(f"{statement['Sid']}: {statement.get('Principal')} may read the bucket")
            continue
        if statement["Action"] != "s3:GetObject":
            problems.append(f"{statement['Sid']}: {statement['Action']}")
        if statement["Resource"] != {"Fn::Sub": "${MediaBucket.Arn}/catalog/products/*"}:
            problems.append(f"{statement['Sid']}: reads {statement['Resource']}")
        if statement.get("Condition") != {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}}:
            problems.append(f"{statement['Sid']}: not only this distribution")
    return problems


def test_cloudfront_reads_only_the_public_prefix_of_the_private_bucket(platform):
    assert cdn_read_problems(platform) == []
    bucket = platform["Resources"]["MediaBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    distribution = platform["Resources"]["MediaDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = distribution["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["MediaBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["MediaOriginAccessControl", "Id"]}
    assert "OriginPath" not in origin  # image URLs carry the bucket key as it is
    control = platform["Resources"]["MediaOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"]) == ("s3", "always")


def test_the_check_sees_a_wider_grant(platform):
    broken = copy.deepcopy(platform)
    statement = broken["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][-1]
    statement["Resource"] = {"Fn::Sub": "${MediaBucket.Arn}/*"}
    assert cdn_read_problems(broken) == [
        "MediaDistributionReadsProductImages: reads {'Fn::Sub': '${MediaBucket.Arn}/*'}"
    ]


def test_images_are_read_only_and_cached_by_path(platform):
    behaviour = platform["Resources"]["MediaDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == {"Ref": "MediaCachePolicy"}
    key = platform["Resources"]["MediaCachePolicy"]["Properties"]["CachePolicyConfig"][
        "ParametersInCacheKeyAndForwardedToOrigin"
    ]
    assert key["CookiesConfig"]["CookieBehavior"] == "none"
    assert key["HeadersConfig"]["HeaderBehavior"] == "none"
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    # The key may be used by CloudFront for this account's distributions, to decrypt only.
    statements = {s["Sid"]: s for s in platform["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]}
    grant = statements["CloudFrontDecryptsProductImages"]
    assert grant["Action"] == "kms:Decrypt" and grant["Principal"] == {"Service": "cloudfront.amazonaws.com"}


def test_only_catalog_gets_the_cdn_address(service, asg):
    domain = {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-MediaPublicDomain"}}
    for name in ("users", "catalog", "orders", "payments", "notifications"):
        for container in task_containers(service, service_parameters(name)).values():
            environment = {item["Name"]: item["Value"] for item in container["Environment"]}
            assert environment.get("AWS_S3_CUSTOM_DOMAIN") == (domain if name == "catalog" else None)
        assert ec2_environment(asg, "Blue", service_parameters(name)).get("AWS_S3_CUSTOM_DOMAIN") == (
            domain if name == "catalog" else None
        )


@pytest.fixture
def catalog_settings(monkeypatch):
    """config/settings/service_settings/catalog.py as production imports it with the stack's values."""
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "shopstack-platform-mediabucket")
    monkeypatch.setenv("AWS_S3_CUSTOM_DOMAIN", "d111111abcdef8.cloudfront.net")
    name = "config.settings.service_settings.catalog"
    saved = sys.modules.pop(name, None)
    try:
        yield importlib.import_module(name)
    finally:
        sys.modules.pop(name, None)
        if saved is not None:
            sys.modules[name] = saved


def test_product_image_urls_are_stable_and_under_the_prefix_cloudfront_reads(catalog_settings, platform):
    options = catalog_settings.STORAGES["default"]["OPTIONS"]
    storage = S3Storage(**options)
    field = ProductImage._meta.get_field("image")
    thumbnail = ProductImage._meta.get_field("thumbnail")
    for upload_to in (field.upload_to, thumbnail.upload_to):
        name = f"{upload_to.replace('%Y', '2026').replace('%m', '11')}shoe.jpg"
        url = storage.url(name)
        # Unsigned (no expiry), on the CDN's name, the same every time it is asked.
        assert url == storage.url(name)
        assert url.startswith("https://d111111abcdef8.cloudfront.net/") and "?" not in url
        key = url.removeprefix("https://d111111abcdef8.cloudfront.net/")
        granted = platform["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][-1]
        assert fnmatch.fnmatch(key, granted["Resource"]["Fn::Sub"].removeprefix("${MediaBucket.Arn}/")), key


# --- the distribution as a checked edge: its own certificate (TLS 1.2+), WAF, standard logs -----


def cdn_edge_problems(platform: dict) -> list[str]:
    """What the distribution must carry however the stack is deployed (no Fn::If: checkov, which
    judges the template and not a deployment, reads a conditional value as neither side)."""
    problems = []
    resource = platform["Resources"]["MediaDistribution"]
    config = resource["Properties"]["DistributionConfig"]
    if resource.get("Condition") or resource.get("Metadata", {}).get("checkov"):
        problems.append("MediaDistribution: conditional or with checkov skips")
    certificate = config.get("ViewerCertificate", {})
    if certificate != {
        "AcmCertificateArn": {"Ref": "MediaCertificateArn"},
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }:
        problems.append(f"ViewerCertificate: {certificate}")
    if config.get("Aliases") != [{"Ref": "MediaDomainName"}]:
        problems.append(f"Aliases: {config.get('Aliases')}")
    if config.get("WebACLId") != {"Ref": "MediaWebAclArn"}:
        problems.append(f"WebACLId: {config.get('WebACLId')}")
    logging = config.get("Logging", {})
    if logging.get("Bucket") != {"Fn::GetAtt": ["CdnLogsBucket", "DomainName"]} or logging.get("IncludeCookies"):
        problems.append(f"Logging: {logging}")
    bucket = platform["Resources"]["CdnLogsBucket"]["Properties"]
    if bucket["OwnershipControls"]["Rules"] != [{"ObjectOwnership": "BucketOwnerPreferred"}]:
        problems.append("CdnLogsBucket: ACLs disabled (CloudFront's standard logging writes with an ACL grant)")
    if not all(bucket["PublicAccessBlockConfiguration"].values()):
        problems.append("CdnLogsBucket: public access not blocked")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    platform_key = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}
    if rule["ServerSideEncryptionByDefault"] != platform_key:
        problems.append("CdnLogsBucket: not encrypted with the platform key")
    if not any(r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]):
        problems.append("CdnLogsBucket: logs never expire")
    return problems


def test_the_distribution_has_its_own_certificate_waf_and_logs(platform):
    assert cdn_edge_problems(platform) == []
    # The log delivery service may make data keys of the platform key (the log bucket's), for this
    # account only; the bucket itself is logged (S3 server access logs) like every other.
    statements = {s["Sid"]: s for s in platform["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]}
    grant = statements["CloudFrontLogDeliveryEncrypts"]
    assert grant["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert grant["Action"] == "kms:GenerateDataKey*"
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    bucket = platform["Resources"]["CdnLogsBucket"]["Properties"]
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    assert platform["Outputs"]["MediaPublicDomain"]["Value"] == {"Ref": "MediaDomainName"}


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (["ViewerCertificate"], {"CloudFrontDefaultCertificate": True}, "ViewerCertificate"),
        (["ViewerCertificate", "MinimumProtocolVersion"], "TLSv1", "ViewerCertificate"),
        (["WebACLId"], None, "WebACLId"),
        (["Logging"], None, "Logging"),
    ],
    ids=["default-certificate", "old-tls", "no-waf", "no-logs"],
)
def test_the_edge_check_sees_a_weaker_distribution(platform, path, value, problem):
    broken = copy.deepcopy(platform)
    config = broken["Resources"]["MediaDistribution"]["Properties"]["DistributionConfig"]
    *parents, key = path
    for parent in parents:
        config = config[parent]
    if value is None:
        del config[key]
    else:
        config[key] = value
    assert [p.split(":")[0] for p in cdn_edge_problems(broken)] == [problem]


def test_the_edge_check_sees_a_log_bucket_without_acls(platform):
    broken = copy.deepcopy(platform)
    broken["Resources"]["CdnLogsBucket"]["Properties"]["OwnershipControls"]["Rules"] = [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    assert cdn_edge_problems(broken) == [
        "CdnLogsBucket: ACLs disabled (CloudFront's standard logging writes with an ACL grant)"
    ]


def test_no_template_skips_the_cdn_checks():
    skipped = re.findall(r"id: (CKV_AWS_(?:68|86|174))\b", "".join(p.read_text() for p in TEMPLATES.glob("*.yaml")))
    assert skipped == []


def test_certificate_and_web_acl_come_from_us_east_1(platform):
    def accepts(parameter: str, value: str) -> bool:
        return re.fullmatch(platform["Parameters"][parameter]["AllowedPattern"], value) is not None

    certificate = "arn:aws:acm:{}:210987654321:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    assert accepts("MediaCertificateArn", certificate.format("us-east-1"))
    assert not accepts("MediaCertificateArn", certificate.format("eu-west-1"))
    acl = "arn:aws:wafv2:us-east-1:210987654321:{}/webacl/shopstack-edge-media/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    assert accepts("MediaWebAclArn", acl.format("global"))
    # A REGIONAL web ACL (API Gateway's or a load balancer's kind) cannot sit in front of CloudFront.
    assert not accepts("MediaWebAclArn", acl.format("regional"))
    for name in ("MediaDomainName", "MediaCertificateArn", "MediaWebAclArn"):
        assert "Default" not in platform["Parameters"][name], name


def test_the_edge_stack_makes_a_cloudfront_web_acl_that_limits_and_logs():
    edge = load("edge")
    acl = edge["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["rate-per-address"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "RequestsPerFiveMinutes"}
    groups = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in acl["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert groups == {"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet"}
    # The rule groups block (no override to count only).
    assert all(rule.get("OverrideAction") == {"None": {}} for rule in acl["Rules"] if rule["Name"] != rate["Name"])
    logging = edge["Resources"]["WebAclLogging"]["Properties"]
    assert logging["LogDestinationConfigs"] == [{"Fn::GetAtt": ["WebAclLogGroup", "Arn"]}]
    group = edge["Resources"]["WebAclLogGroup"]["Properties"]
    assert group["LogGroupName"] == {"Fn::Sub": "aws-waf-logs-${AWS::StackName}"}  # WAF's required prefix
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["LogKey", "Arn"]} and group["RetentionInDays"]
    # CloudFront reads both from us-east-1 only: the stack refuses any other region.
    (assertion,) = edge["Rules"]["OnlyInUsEast1"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert set(edge["Outputs"]) == {"CertificateArn", "WebAclArn"}
