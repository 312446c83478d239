"""Product images at stable URLs (#15, 7): CloudFront in front of the media bucket's public prefix
(origin access control; the bucket stays private), and catalog's storage building unsigned URLs on
that address, under exactly the prefix the bucket lets CloudFront read."""

from __future__ import annotations

import copy
import fnmatch
import importlib
import sys

import pytest
from storages.backends.s3 import S3Storage

from apps.catalog.models import ProductImage
from tests.deploy.templates import ec2_environment, service_parameters, task_containers

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
