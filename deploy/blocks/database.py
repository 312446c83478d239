"""The PostgreSQL instance, once: a service stack's own (service.yaml, unless the stack is given a
shared instance) and the shared one the small-shop profile puts the five services' databases on
(database.yaml). Both are rendered from here, so the two cannot drift apart: engine settings,
encryption, backups, monitoring, its log group and its alarms."""

from __future__ import annotations

from typing import Any

from blocks.common import platform_import, ref, sub

# What each template calls the things the instance is built from, and what it names.
VARIANTS: dict[str, dict[str, Any]] = {
    # service.yaml: the service's own instance, unless DatabaseStackName names a shared one.
    "service": {
        "condition": "OwnDatabase",
        "master_secret": "DatabaseSecret",
        "identifier": "${ResourcePrefix}shopstack-${ServiceName}",
        "what": "the ${ServiceName} database",
        "group_description": "PostgreSQL of ${ServiceName}, reached only from its tasks",
        # The instance's first database is the service's; its master user owns it (migrations).
        "database_name": {"Fn::FindInMap": ["Services", ref("ServiceName"), "DatabaseName"]},
        # The service's tasks (the migrate task included) and its credential rotation functions.
        "clients": {
            "TaskSecurityGroup": "PostgreSQL from the service's tasks",
            "RotationSecurityGroup": "PostgreSQL from the credential rotation functions",
        },
    },
    # database.yaml: one instance for every service stack that names this stack. Each service's
    # migrate task creates its database and owner role (deploy/migrate.py); each service stack
    # admits its own tasks and rotation functions with an ingress rule of its own.
    "shared": {
        "condition": None,
        "master_secret": "MasterSecret",
        "identifier": "${ResourcePrefix}shopstack-database",
        "what": "the shared ShopStack database instance",
        "group_description": "PostgreSQL shared by the ShopStack services, reached only from their tasks",
        "database_name": None,
        "clients": {"RotationSecurityGroup": "PostgreSQL from the master credential's rotation function"},
    },
}


def _text(text: str) -> Any:
    """`text` as CloudFormation reads it: an Fn::Sub only where it names a variable."""
    return sub(text) if "${" in text else text


def _identifier(variant: dict[str, Any]) -> dict:
    return {"Fn::If": ["DbIdentifierGiven", ref("DbInstanceIdentifier"), sub(variant["identifier"])]}


def _alarm(description: str, properties: dict) -> dict:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": _text(description),
            **properties,
            "AlarmActions": [platform_import("AlertsTopicArn")],
        },
    }


def _instance_dimension() -> list[dict]:
    return [{"Name": "DBInstanceIdentifier", "Value": ref("Database")}]


def database_instance(name: str = "service") -> dict:
    """The instance and what belongs to it: subnet group, security group (egress none; ingress
    from the variant's clients), the PostgreSQL log group, enhanced monitoring's role, and the
    CPU, free storage and connections alarms."""
    variant = VARIANTS[name]
    what = variant["what"]
    master = variant["master_secret"]
    key = platform_import("KeyArn")
    resources: dict[str, dict] = {
        "DatabaseSubnetGroup": {
            "Type": "AWS::RDS::DBSubnetGroup",
            "Properties": {
                "DBSubnetGroupDescription": _text(f"Private subnets of {what}"),
                "SubnetIds": {"Fn::Split": [",", {"Fn::ImportValue": sub("${NetworkStackName}-PrivateSubnets")}]},
            },
        },
        "DatabaseSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": _text(variant["group_description"]),
                "VpcId": {"Fn::ImportValue": sub("${NetworkStackName}-VpcId")},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "SourceSecurityGroupId": ref(group),
                        "Description": description,
                    }
                    for group, description in variant["clients"].items()
                ],
                "SecurityGroupEgress": [
                    {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No outbound traffic"}
                ],
            },
        },
        # RDS exports PostgreSQL's log to /aws/rds/instance/<instance name>/postgresql, creating
        # that group itself (no retention, no key) unless it exists. A fixed instance name lets the
        # stack create it first, with the stack's retention and the platform key; a generated name
        # would only be known once RDS had already made the group.
        "DatabaseLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub("/aws/rds/instance/${Name}/postgresql", {"Name": _identifier(variant)}),
                "RetentionInDays": ref("LogRetentionDays"),
                "KmsKeyId": key,
            },
        },
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            # Its log group exists before it exports the first line.
            "DependsOn": "DatabaseLogGroup",
            "Properties": {
                "DBInstanceIdentifier": _identifier(variant),
                "Engine": "postgres",
                "EngineVersion": ref("DbEngineVersion"),
                "DBInstanceClass": ref("DbInstanceClass"),
                **({"DBName": variant["database_name"]} if variant["database_name"] else {}),
                "AllocatedStorage": ref("DbAllocatedStorage"),
                "MaxAllocatedStorage": ref("DbMaxAllocatedStorage"),
                "StorageType": "gp3",
                "StorageEncrypted": True,
                "KmsKeyId": key,
                "MasterUsername": sub(f"{{{{resolve:secretsmanager:${{{master}}}:SecretString:username}}}}"),
                "MasterUserPassword": sub(f"{{{{resolve:secretsmanager:${{{master}}}:SecretString:password}}}}"),
                "MultiAZ": ref("DbMultiAz"),
                "PubliclyAccessible": False,
                "DBSubnetGroupName": ref("DatabaseSubnetGroup"),
                "VPCSecurityGroups": [ref("DatabaseSecurityGroup")],
                "BackupRetentionPeriod": 14,
                "CopyTagsToSnapshot": True,
                "DeletionProtection": True,
                "AutoMinorVersionUpgrade": True,
                "EnableIAMDatabaseAuthentication": True,
                "EnablePerformanceInsights": True,
                "PerformanceInsightsKMSKeyId": key,
                "EnableCloudwatchLogsExports": ["postgresql"],
                # OS metrics (memory, swap, per-process CPU) every 60 s: what CloudWatch's
                # hypervisor metrics miss when the instance is short of memory. Billed as
                # CloudWatch Logs (RDSOSMetrics).
                "MonitoringInterval": 60,
                "MonitoringRoleArn": {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]},
            },
        },
        "DatabaseMonitoringRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": _text(f"RDS enhanced monitoring of {what}"),
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
                ],
            },
        },
        "DatabaseCpuAlarm": _alarm(
            f"CPU of {what}",
            {
                "Namespace": "AWS/RDS",
                "MetricName": "CPUUtilization",
                "Dimensions": _instance_dimension(),
                "Statistic": "Average",
                "Period": 300,
                "EvaluationPeriods": 3,
                "Threshold": ref("DbCpuAlarmPercent"),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "breaching",
            },
        ),
        "DatabaseFreeStorageAlarm": _alarm(
            f"Free storage of {what}, GB",
            {
                "Metrics": [
                    {
                        "Id": "free",
                        "ReturnData": False,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/RDS",
                                "MetricName": "FreeStorageSpace",
                                "Dimensions": _instance_dimension(),
                            },
                            "Period": 300,
                            "Stat": "Minimum",
                        },
                    },
                    {"Id": "gb", "Label": "free storage (GB)", "ReturnData": True, "Expression": "free / 1073741824"},
                ],
                "EvaluationPeriods": 1,
                "Threshold": ref("DbFreeStorageAlarmGb"),
                "ComparisonOperator": "LessThanThreshold",
                "TreatMissingData": "breaching",
            },
        ),
        "DatabaseConnectionsAlarm": _alarm(
            f"Connections to {what}",
            {
                "Namespace": "AWS/RDS",
                "MetricName": "DatabaseConnections",
                "Dimensions": _instance_dimension(),
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 2,
                "Threshold": ref("DbConnectionsAlarm"),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        ),
    }
    if variant["condition"]:
        resources = {
            name: {"Type": resource["Type"], "Condition": variant["condition"], **resource}
            for name, resource in resources.items()
        }
    return resources
