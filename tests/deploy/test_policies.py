"""Our own policy checks over every template, and proof that each check catches a break."""

from __future__ import annotations

import json

import pytest

from apps.core.events.declarations import publishes
from config.services import SERVICES
from tests.deploy.templates import (
    SES_IDENTITY_ARN,
    TEMPLATE_NAMES,
    _branches,
    exists,
    foreign_role_resources,
    iam_statements,
    load,
    resolve,
    resources,
    service_parameters,
    task_containers,
    unencrypted_resources,
    unredriven_queues,
    wildcard_statements,
)


@pytest.fixture(scope="module")
def templates() -> dict[str, dict]:
    return {name: load(name) for name in TEMPLATE_NAMES}


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_passes_every_policy(templates, name):
    template = templates[name]
    assert unredriven_queues(template) == []
    assert unencrypted_resources(template) == []
    assert wildcard_statements(template) == []


@pytest.mark.parametrize("name", ["service", "service-asg"])
def test_service_roles_reference_only_their_own_resources(templates, name):
    assert foreign_role_resources(templates[name]) == []


def test_the_policies_see_the_resources_they_judge(templates):
    # A check over nothing passes vacuously: make sure the templates hold what the checks look at.
    service, platform = templates["service"], templates["platform"]
    assert set(resources(service, "AWS::SQS::Queue")) == {"Queue", "DeadLetterQueue", "SubscriptionDeadLetterQueue"}
    assert set(resources(service, "AWS::SNS::Subscription")) == {"EventsSubscription"}
    assert set(resources(platform, "AWS::SNS::Subscription")) == {"AlertsEmail"}
    assert len(resources(platform, "AWS::S3::Bucket")) == 4
    assert len(resources(platform, "AWS::SNS::Topic")) == 2
    assert resources(service, "AWS::RDS::DBInstance")
    assert resources(platform, "AWS::ElastiCache::ServerlessCache")
    statements = [s for name in TEMPLATE_NAMES for s in iam_statements(templates[name])]
    assert len(statements) > 30


def test_removing_a_redrive_policy_fails_the_check(templates):
    service = load("service")
    del service["Resources"]["Queue"]["Properties"]["RedrivePolicy"]
    problems = unredriven_queues(service)
    assert any(problem.startswith("Queue:") for problem in problems)
    # Nothing redrives to the dead-letter queue any more, so it counts as an ordinary queue too.
    assert any(problem.startswith("DeadLetterQueue:") for problem in problems)


@pytest.mark.parametrize(("name", "subscription"), [("service", "EventsSubscription"), ("platform", "AlertsEmail")])
def test_a_subscription_without_a_dead_letter_queue_fails_the_check(name, subscription):
    template = load(name)
    del template["Resources"][subscription]["Properties"]["RedrivePolicy"]
    assert f"{subscription}: a subscription without a dead-letter queue of this template" in unredriven_queues(template)


def test_queues_and_secrets_outlive_the_stack(templates):
    service = templates["service"]
    kept = [
        *resources(service, "AWS::SQS::Queue").items(),
        *resources(service, "AWS::SecretsManager::Secret").items(),
        *resources(templates["platform"], "AWS::SQS::Queue").items(),
    ]
    assert len(kept) == 7
    for name, resource in kept:
        assert resource.get("DeletionPolicy") == "Retain" == resource.get("UpdateReplacePolicy"), name


def test_a_redrive_to_an_unknown_queue_fails_the_check():
    service = load("service")
    service["Resources"]["Queue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] = "arn:aws:sqs:x:1:other"
    assert unredriven_queues(service)


def test_a_wildcard_statement_fails_the_check():
    platform = load("platform")
    role = platform["Resources"]["TrailLogRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role["Statement"].append({"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"})
    assert wildcard_statements(platform) == ["TrailLogRole: statement Everything allows Action * on Resource *"]


def test_a_wildcard_hidden_in_a_condition_branch_fails_the_check():
    service = load("service")
    policy = service["Resources"]["RuntimePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"].append(
        {"Effect": "Allow", "Action": ["*"], "Resource": {"Fn::If": ["IsUsers", "*", {"Ref": "AWS::NoValue"}]}}
    )
    assert wildcard_statements(service)


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:sqs:us-east-1:123456789012:shopstack-orders",
        {"Fn::Sub": "${Bucket}/*"},
        {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-MediaBucketArn"}},
        "*",
    ],
    ids=["another-service-queue", "whole-bucket", "bucket-without-prefix-condition", "star"],
)
def test_a_foreign_resource_in_the_task_role_fails_the_check(resource):
    service = load("service")
    policy = service["Resources"]["RuntimePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"].append({"Sid": "Foreign", "Effect": "Allow", "Action": "s3:GetObject", "Resource": resource})
    problems = foreign_role_resources(service)
    assert len(problems) == 1 and "Foreign" in problems[0]


def test_an_unencrypted_resource_fails_the_check():
    service, platform = load("service"), load("platform")
    service["Resources"]["Queue"]["Properties"]["SqsManagedSseEnabled"] = False
    service["Resources"]["Database"]["Properties"]["StorageEncrypted"] = False
    del platform["Resources"]["EventsTopic"]["Properties"]["KmsMasterKeyId"]
    del platform["Resources"]["MediaBucket"]["Properties"]["BucketEncryption"]
    del platform["Resources"]["Cache"]["Properties"]["KmsKeyId"]
    assert len(unencrypted_resources(service)) == 2
    assert len(unencrypted_resources(platform)) == 3


def test_the_queue_policy_lets_only_the_events_topic_send(templates):
    statement = templates["service"]["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert len(statement) == 1
    assert statement[0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement[0]["Action"] == "sqs:SendMessage"
    assert statement[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-EventsTopicArn"}
    }


# --- notifications: SES from one identity, SMS to phone numbers only ------------------------------


def _runtime_statements(service: str) -> list[dict]:
    template = load("service")
    parameters = service_parameters(service)
    document = resolve(template["Resources"]["RuntimePolicy"]["Properties"]["PolicyDocument"], template, parameters)
    return document["Statement"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_only_notifications_sends_email_and_only_from_its_ses_identity(service):
    sending = [s for s in _runtime_statements(service) if "ses:" in json.dumps(s["Action"])]
    if service != "notifications":
        assert sending == []
        return
    assert sending == [
        {
            "Sid": "SendEmailFromOwnIdentity",
            "Effect": "Allow",
            "Action": ["ses:SendEmail", "ses:SendRawEmail"],
            "Resource": SES_IDENTITY_ARN,
        }
    ]


@pytest.mark.parametrize("service", list(SERVICES))
def test_sms_publish_to_any_resource_is_users_and_notifications_only(service):
    statements = {s.get("Sid"): s for s in _runtime_statements(service)}
    if service not in ("users", "notifications"):
        assert "SmsToPhoneNumbers" not in statements and "SmsOnlyNoTopics" not in statements
        return
    assert statements["SmsToPhoneNumbers"] == {
        "Sid": "SmsToPhoneNumbers",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": "*",
    }
    if service == "users":  # phone verification codes; it publishes events too, so no topic deny
        assert "SmsOnlyNoTopics" not in statements
        return
    deny = statements["SmsOnlyNoTopics"]
    assert (deny["Effect"], deny["Action"], deny["Resource"]) == (
        "Deny",
        "sns:Publish",
        {"Fn::Sub": "arn:${AWS::Partition}:sns:*"},
    )
    # The deny also covers the events topic: free while notifications publishes no events.
    assert publishes("notifications") == frozenset(), "notifications publishes events now: narrow SmsOnlyNoTopics"


def test_sending_email_needs_the_identity_and_the_sender_in_the_notifications_stack():
    rule = load("service")["Rules"]["NotificationsSendsEmail"]
    # notifications' stack, and the all-in-one stack (which runs notifications too).
    assert rule["RuleCondition"] == {
        "Fn::Or": [
            {"Fn::Equals": [{"Ref": "ServiceName"}, "notifications"]},
            {"Fn::Equals": [{"Ref": "ServiceName"}, "all"]},
        ]
    }
    asserted = [assertion["Assert"] for assertion in rule["Assertions"]]
    for parameter in ("SesIdentityArn", "NotificationsFromEmail"):
        assert {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]} in asserted
    for container in task_containers(load("service"), service_parameters("notifications")).values():
        env = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert env["DEFAULT_FROM_EMAIL"] == "ShopStack <shop@shop.example.com>"


@pytest.mark.parametrize(
    ("sid", "action"),
    [
        ("Other", "sns:Publish"),
        ("SmsToPhoneNumbers", ["sns:Publish", "sqs:SendMessage"]),
        ("SmsToPhoneNumbers", "ses:SendEmail"),
    ],
    ids=["another-statement", "more-actions", "another-action"],
)
def test_a_star_resource_outside_the_listed_exceptions_fails_the_check(sid, action):
    service = load("service")
    policy = service["Resources"]["RuntimePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"].append({"Sid": sid, "Effect": "Allow", "Action": action, "Resource": "*"})
    problems = foreign_role_resources(service)
    assert problems == [f'RuntimePolicy: statement {sid} names "*"']


# --- security groups: each one's egress is what its comment says ----------------------------------


def open_egress_groups(template: dict) -> list[str]:
    """Security groups that keep AWS's default egress (all traffic anywhere: a group declared without
    SecurityGroupEgress gets it) or declare all protocols to somewhere other than loopback."""
    problems = []
    for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
        rules = group["Properties"].get("SecurityGroupEgress")
        if not rules:
            problems.append(f"{name}: default egress (all traffic anywhere)")
            continue
        for rule in _branches(rules):
            if str(rule["IpProtocol"]) == "-1" and rule.get("CidrIp") != "127.0.0.1/32":
                problems.append(
                    f"{name}: all traffic to {rule.get('CidrIp') or rule.get('DestinationSecurityGroupId')}"
                )
    return problems


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_security_group_allows_all_egress(templates, name):
    assert open_egress_groups(templates[name]) == []


def test_a_group_without_declared_egress_fails_the_check(templates):
    broken = json.loads(json.dumps(templates["platform"]))
    del broken["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert open_egress_groups(broken) == ["LoadBalancerSecurityGroup: default egress (all traffic anywhere)"]


def test_the_load_balancer_and_vpc_link_reach_only_their_next_hop(templates):
    groups = resources(templates["platform"], "AWS::EC2::SecurityGroup")
    [vpc_link] = groups["VpcLinkSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (vpc_link["FromPort"], vpc_link["ToPort"]) == (443, 443)
    assert vpc_link["DestinationSecurityGroupId"] == {"Ref": "LoadBalancerSecurityGroup"}
    [balancer] = groups["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (balancer["FromPort"], balancer["ToPort"]) == (8000, 8000)
    assert balancer["CidrIp"] == {"Fn::ImportValue": {"Fn::Sub": "${NetworkStackName}-VpcCidr"}}
    # No egress rules outside the groups: CloudFormation would drop them on the group's next update.
    assert not resources(templates["platform"], "AWS::EC2::SecurityGroupEgress")


# --- the EC2 variant's encrypted volumes: Auto Scaling may use the key ------------------------------


def test_the_groups_launch_with_the_role_the_key_policy_grants(templates):
    platform, asg = templates["platform"], templates["service-asg"]
    statements = {s["Sid"]: s for s in platform["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]}
    role_arn = platform["Outputs"]["AutoScalingRoleArn"]["Value"]
    assert statements["AutoScalingUsesKeyForVolumes"]["Principal"] == {"AWS": role_arn}
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"} <= set(
        statements["AutoScalingUsesKeyForVolumes"]["Action"]
    )
    grant = statements["AutoScalingAttachesEncryptedVolumes"]
    assert grant["Principal"] == {"AWS": role_arn} and grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert platform["Resources"]["AutoScalingRole"]["Properties"]["AWSServiceName"] == "autoscaling.amazonaws.com"
    for name, group in resources(asg, "AWS::AutoScaling::AutoScalingGroup").items():
        assert group["Properties"]["ServiceLinkedRoleARN"] == {
            "Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-AutoScalingRoleArn"}
        }, name
    for name, template in resources(asg, "AWS::EC2::LaunchTemplate").items():
        for device in template["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"]:
            assert device["Ebs"]["KmsKeyId"] == {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-KeyArn"}}, name


# --- alarms: what an operator hears of -------------------------------------------------------------


def _alarm_metrics(template: dict) -> set[tuple[str, str]]:
    metrics = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if "MetricName" in properties:
            metrics.add((properties["Namespace"], properties["MetricName"]))
        for query in properties.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                metrics.add((metric["Namespace"], metric["MetricName"]))
    return metrics


def test_the_database_tasks_deliveries_and_gateway_are_watched(templates):
    service = _alarm_metrics(templates["service"])
    assert {
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/RDS", "DatabaseConnections"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    } <= service
    assert ("AWS/SNS", "NumberOfNotificationsFailed") in _alarm_metrics(templates["platform"])
    assert ("AWS/ApiGateway", "5xx") in _alarm_metrics(templates["api-gateway"])
    # Every ECS service has a running-task alarm.
    watched = {
        alarm["Properties"]["Dimensions"][1]["Value"]["Fn::GetAtt"][0]
        for alarm in resources(templates["service"], "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "RunningTaskCount"
    }
    assert watched == set(resources(templates["service"], "AWS::ECS::Service"))


def test_every_alarm_tells_the_alerts_topic_or_scales(templates):
    for name in TEMPLATE_NAMES:
        for alarm_name, alarm in resources(templates[name], "AWS::CloudWatch::Alarm").items():
            assert alarm["Properties"].get("AlarmActions"), (name, alarm_name)


def test_the_database_engine_is_pinned_to_its_major_version(templates):
    parameter = templates["service"]["Parameters"]["DbEngineVersion"]
    assert parameter["Default"] == "16" and parameter["AllowedPattern"] == "^\\d+$"
    database = templates["service"]["Resources"]["Database"]["Properties"]
    assert database["AutoMinorVersionUpgrade"] is True


def test_the_database_has_enhanced_monitoring_and_no_skip_for_it(templates):
    database = templates["service"]["Resources"]["Database"]
    assert database["Properties"]["MonitoringInterval"] == 60
    assert database["Properties"]["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}
    assert "CKV_AWS_118" not in json.dumps(database.get("Metadata", {}))


# --- the network: a NAT gateway per zone as an option ------------------------------------------------


def _private_egress(network: dict, parameters: dict) -> dict[str, str | None]:
    """{private subnet: the NAT gateway its route table sends 0.0.0.0/0 to}, as deployed."""
    tables = {}
    for name, association in resources(network, "AWS::EC2::SubnetRouteTableAssociation").items():
        properties = resolve(association["Properties"], network, parameters)
        if properties["SubnetId"]["Ref"].startswith("PrivateSubnet"):
            tables[properties["SubnetId"]["Ref"]] = properties["RouteTableId"]["Ref"]
    routes = {
        route["Properties"]["RouteTableId"]["Ref"]: route["Properties"]["NatGatewayId"]["Ref"]
        for route in resources(network, "AWS::EC2::Route").values()
        if "NatGatewayId" in route["Properties"] and exists(network, route, parameters)
    }
    return {subnet: routes.get(table) for subnet, table in tables.items()}


def test_one_nat_gateway_by_default_one_per_zone_as_an_option(templates):
    network = templates["network"]
    assert _private_egress(network, {}) == {
        "PrivateSubnet1": "NatGatewayInstance",
        "PrivateSubnet2": "NatGatewayInstance",
    }
    per_zone = _private_egress(network, {"NatGatewayPerZone": "true"})
    assert per_zone == {"PrivateSubnet1": "NatGatewayInstance", "PrivateSubnet2": "NatGatewayInstance2"}
    gateways = resources(network, "AWS::EC2::NatGateway")
    assert gateways["NatGatewayInstance2"]["Properties"]["SubnetId"] == {"Ref": "PublicSubnet2"}
    # Without NAT there is no second one either.
    assert _private_egress(network, {"NatGateway": "false", "NatGatewayPerZone": "true"}) == {
        "PrivateSubnet1": None,
        "PrivateSubnet2": None,
    }


def test_the_undelivered_queues_are_encrypted_with_the_key_sns_may_use(templates):
    # New queues came with no new checkov skip: the platform key, granted to SNS, not SSE-SQS.
    platform, service = templates["platform"], templates["service"]
    for template, name in ((service, "SubscriptionDeadLetterQueue"), (platform, "AlertsDeadLetterQueue")):
        queue = template["Resources"][name]
        assert "Metadata" not in queue, name
        assert queue["Properties"]["KmsMasterKeyId"] in (
            {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-KeyArn"}},
            {"Ref": "Key"},
        )
    statements = {s["Sid"]: s for s in platform["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]}
    grant = statements["SnsWritesEncryptedDeadLetterQueues"]
    assert grant["Principal"] == {"Service": "sns.amazonaws.com"}
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
