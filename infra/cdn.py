"""The site's CloudFront distribution, made through the CloudFront API.

It is not in infra/template.yaml because moto's CloudFormation cannot build AWS::CloudFront
resources, and the deploy rehearsal (tests/deploy/) must run the very code that deploys to AWS.
The distribution is found again by its comment, `<app>-<stage>-site`, so a second deploy reuses
it; its origin is the stack's private site bucket, read through an origin access control.
"""
import json
import secrets

# AWS managed cache policy "CachingOptimized"; per-object Cache-Control (deploy.py) still rules.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# Disabling a distribution takes minutes on AWS; poll every 30 s for up to 30 minutes.
DEPLOYED_WAIT = {"Delay": 30, "MaxAttempts": 60}


def site_name(app: str, stage: str) -> str:
    return f"{app}-{stage}-site"


def find_distribution(cloudfront, name: str) -> dict | None:
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for summary in page["DistributionList"].get("Items", []):
            if summary["Comment"] == name:
                return summary
    return None


def site_url(session, app: str, stage: str) -> str | None:
    """The site's address, once its distribution exists."""
    summary = find_distribution(session.client("cloudfront"), site_name(app, stage))
    return summary and f"https://{summary['DomainName']}"


def _access_control(cloudfront, name: str, create: bool) -> str | None:
    for item in cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items", []):
        if item["Name"] == name:
            return item["Id"]
    if not create:
        return None
    return cloudfront.create_origin_access_control(OriginAccessControlConfig={
        "Name": name, "OriginAccessControlOriginType": "s3", "SigningBehavior": "always",
        "SigningProtocol": "sigv4"})["OriginAccessControl"]["Id"]


def distribution_config(name: str, bucket_domain: str, access_control_id: str) -> dict:
    return {
        "CallerReference": name, "Comment": name, "Enabled": True,
        "DefaultRootObject": "index.html", "PriceClass": "PriceClass_100",
        "HttpVersion": "http2and3",
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "site", "DomainName": bucket_domain, "OriginAccessControlId": access_control_id,
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED, "Compress": True}}


def ensure_site(session, app: str, stage: str, site_bucket: str) -> dict:
    """Create the distribution once; always (re)state the bucket policy that lets only it read.
    Returns {"DistributionId", "SiteUrl"}."""
    cloudfront, name = session.client("cloudfront"), site_name(app, stage)
    summary = find_distribution(cloudfront, name)
    if summary is None:
        bucket_domain = f"{site_bucket}.s3.{session.region_name}.amazonaws.com"
        config = distribution_config(name, bucket_domain, _access_control(cloudfront, name, True))
        summary = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    session.client("s3").put_bucket_policy(Bucket=site_bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{site_bucket}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": summary["ARN"]}}}]}))
    return {"DistributionId": summary["Id"], "SiteUrl": f"https://{summary['DomainName']}"}


def invalidate(session, distribution_id: str) -> None:
    session.client("cloudfront").create_invalidation(
        DistributionId=distribution_id, InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": secrets.token_hex(8)})


def remove_site(session, app: str, stage: str) -> bool:
    """Disable, wait until disabled everywhere, delete. False when there was none."""
    cloudfront, name = session.client("cloudfront"), site_name(app, stage)
    summary = find_distribution(cloudfront, name)
    if summary is not None:
        current = cloudfront.get_distribution_config(Id=summary["Id"])
        if current["DistributionConfig"]["Enabled"]:
            cloudfront.update_distribution(
                Id=summary["Id"], IfMatch=current["ETag"],
                DistributionConfig={**current["DistributionConfig"], "Enabled": False})
        cloudfront.get_waiter("distribution_deployed").wait(Id=summary["Id"],
                                                            WaiterConfig=DEPLOYED_WAIT)
        etag = cloudfront.get_distribution(Id=summary["Id"])["ETag"]
        cloudfront.delete_distribution(Id=summary["Id"], IfMatch=etag)
    access_control = _access_control(cloudfront, name, create=False)
    if access_control is not None:
        etag = cloudfront.get_origin_access_control(Id=access_control)["ETag"]
        cloudfront.delete_origin_access_control(Id=access_control, IfMatch=etag)
    return summary is not None
