"""deploy/release_ec2.py, the blue/green release of a web tier on EC2 (service-asg.yaml), against a
fake AWS CLI that keeps one stack's parameters: the stack updates it makes, in order, and where it
stops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.deploy.templates import ROOT, load, secret_arn

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import release_ec2
finally:
    sys.path.remove(str(ROOT / "deploy"))

STACK = "shopstack-catalog-web-ec2"
TRIGGERS = [f"arn:aws:cloudwatch:eu-west-1:210987654321:alarm:{STACK}-{name}" for name in ("a", "b", "c", "d")]
LATEST_AMI = "ami-0latest"
PARAMETERS = list(load("service-asg")["Parameters"])
SERVICE_STACK = "shopstack-catalog"
SERVICE_PARAMETERS = list(load("service")["Parameters"])


class FakeAws:
    """The AWS CLI calls release_ec2.py makes, on one service-asg.yaml stack."""

    def __init__(self, **parameters: str) -> None:
        self.parameters = dict.fromkeys(PARAMETERS, "x")
        self.parameters.update(
            BlueImageTag="old",
            GreenImageTag="older",
            BlueAmiId="ami-0blue",
            GreenAmiId="ami-0green",
            BlueCapacity="2",
            GreenCapacity="0",
            BlueDesiredCapacity="2",
            GreenDesiredCapacity="0",
            BlueWeight="100",
            GreenWeight="0",
        )
        self.parameters.update(parameters)
        self.status = "UPDATE_COMPLETE"
        self.calls: list[list[str]] = []
        self.updates: list[tuple[dict[str, str], dict]] = []  # (changed parameters, rollback configuration)
        self.roll_back_update: int | None = None  # the 1-based update whose wait fails
        self.pending: dict[str, str] = {}
        self.current_sizes: dict[str, str] = {}  # a group's DesiredCapacity, where autoscaling moved it
        # The service stack (service.yaml) this web tier belongs to: the same shared values.
        self.parameters.update(ServiceName="catalog", ServiceStackName=SERVICE_STACK)
        self.service_parameters = {key: self.parameters.get(key, "x") for key in SERVICE_PARAMETERS}

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        command = args[:2]
        if command == ["cloudformation", "describe-stacks"] and args[args.index("--stack-name") + 1] == SERVICE_STACK:
            service = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.service_parameters.items()]
            return json.dumps({"Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Parameters": service, "Outputs": []}]})
        if command == ["cloudformation", "describe-stacks"]:
            return json.dumps(
                {
                    "Stacks": [
                        {
                            "StackStatus": self.status,
                            "Parameters": [
                                {"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()
                            ],
                            "Outputs": [
                                {"OutputKey": "RollbackTriggers", "OutputValue": ",".join(TRIGGERS)},
                                {"OutputKey": "BlueTargetGroupArn", "OutputValue": "tg/blue"},
                                {"OutputKey": "BlueAutoScalingGroupName", "OutputValue": "asg-blue"},
                                {"OutputKey": "GreenAutoScalingGroupName", "OutputValue": "asg-green"},
                                {"OutputKey": "GreenTargetGroupArn", "OutputValue": "tg/green"},
                            ],
                        }
                    ]
                }
            )
        if command == ["cloudformation", "update-stack"]:
            assert args[args.index("--stack-name") + 1] == STACK
            assert "--use-previous-template" in args
            assert args[args.index("--capabilities") + 1] == "CAPABILITY_IAM"
            given = json.loads(args[args.index("--parameters") + 1])
            # Every parameter, the unchanged ones by UsePreviousValue (an omitted one would fall
            # back to its default).
            assert [item["ParameterKey"] for item in given] == list(self.parameters)
            changes = {
                item["ParameterKey"]: item["ParameterValue"] for item in given if not item.get("UsePreviousValue")
            }
            assert all("ParameterValue" not in item for item in given if item.get("UsePreviousValue"))
            if all(self.parameters[key] == value for key, value in changes.items()):
                raise subprocess.CalledProcessError(
                    254, ["aws", *args], stderr="An error occurred (ValidationError): No updates are to be performed."
                )
            self.updates.append((changes, json.loads(args[args.index("--rollback-configuration") + 1])))
            self.pending = changes
            return "{}"
        if command == ["cloudformation", "wait"]:
            assert args[2:] == ["stack-update-complete", "--stack-name", STACK]
            if len(self.updates) == self.roll_back_update:
                self.status = "UPDATE_ROLLBACK_COMPLETE"
                raise subprocess.CalledProcessError(255, ["aws", *args], stderr="Waiter StackUpdateComplete failed")
            self.parameters.update(self.pending)
            return ""
        if command == ["elbv2", "wait"]:
            return ""
        if command == ["autoscaling", "describe-auto-scaling-groups"]:
            colour = {"asg-blue": "Blue", "asg-green": "Green"}[args[args.index("--auto-scaling-group-names") + 1]]
            # Autoscaling may have grown the group above the stack's value.
            size = self.current_sizes.get(colour, self.parameters[f"{colour}DesiredCapacity"])
            return json.dumps({"AutoScalingGroups": [{"DesiredCapacity": int(size)}]})
        if command == ["ssm", "get-parameter"]:
            assert args[args.index("--name") + 1] == release_ec2.AMI_PARAMETER
            return LATEST_AMI + "\n"
        raise AssertionError(f"unexpected call {args}")

    def changes(self) -> list[dict[str, str]]:
        return [changes for changes, _ in self.updates]


def release(fake: FakeAws, *extra: str) -> int:
    return release_ec2.main(["--stack-name", STACK, "--image-tag", "new", *extra], run=fake)


def test_a_release_moves_the_traffic_to_the_idle_colour_in_steps():
    fake = FakeAws()
    assert release(fake) == 0
    assert fake.changes() == [
        {"GreenImageTag": "new", "GreenAmiId": LATEST_AMI, "GreenCapacity": "2", "GreenDesiredCapacity": "2"},
        {"BlueWeight": "90", "GreenWeight": "10"},
        {"BlueWeight": "0", "GreenWeight": "100"},
        {"BlueCapacity": "0", "BlueDesiredCapacity": "0"},
    ]
    expected_triggers = [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in TRIGGERS]
    for _, rollback in fake.updates:
        assert rollback["RollbackTriggers"] == expected_triggers
    # The two traffic shifts are watched for 10 minutes each.
    assert [rollback["MonitoringTimeInMinutes"] for _, rollback in fake.updates] == [0, 10, 10, 0]
    # No traffic moves before green's instances pass the health check.
    updates = [i for i, call in enumerate(fake.calls) if call[:2] == ["cloudformation", "update-stack"]]
    (health,) = [i for i, call in enumerate(fake.calls) if call[:2] == ["elbv2", "wait"]]
    assert fake.calls[health] == ["elbv2", "wait", "target-in-service", "--target-group-arn", "tg/green"]
    assert updates[0] < health < updates[1]
    # Blue keeps its image and AMI: the next release's idle colour, rolled back to as it was.
    assert fake.parameters["BlueImageTag"] == "old" and fake.parameters["BlueAmiId"] == "ami-0blue"


def test_the_next_release_goes_to_the_other_colour():
    fake = FakeAws()
    assert release(fake) == 0
    fake.updates.clear()
    assert release_ec2.main(["--stack-name", STACK, "--image-tag", "newer", "--ami-id", "ami-0given"], run=fake) == 0
    assert fake.changes() == [
        {"BlueImageTag": "newer", "BlueAmiId": "ami-0given", "BlueCapacity": "2", "BlueDesiredCapacity": "2"},
        {"GreenWeight": "90", "BlueWeight": "10"},
        {"GreenWeight": "0", "BlueWeight": "100"},
        {"GreenCapacity": "0", "GreenDesiredCapacity": "0"},
    ]


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_an_alarm_stops_the_release_where_it_rolled_back(failing):
    fake = FakeAws()
    fake.roll_back_update = failing
    assert release(fake) == 1
    assert len(fake.updates) == failing  # nothing after the update that rolled back
    assert fake.parameters["BlueWeight"] == ("90" if failing == 3 else "100")
    assert fake.parameters["BlueCapacity"] == "2"


def test_a_release_that_stopped_half_way_first_returns_the_traffic_to_the_live_colour():
    fake = FakeAws(BlueWeight="90", GreenWeight="10", GreenCapacity="2", GreenImageTag="broken")
    assert release(fake) == 0
    assert fake.changes()[:2] == [
        {"BlueWeight": "100", "GreenWeight": "0"},
        {"GreenImageTag": "new", "GreenAmiId": LATEST_AMI, "GreenCapacity": "2", "GreenDesiredCapacity": "2"},
    ]


def test_an_update_with_nothing_to_change_does_not_stop_the_release():
    # A retry after a failed canary: green already has this image, AMI and capacity.
    fake = FakeAws(GreenImageTag="new", GreenAmiId=LATEST_AMI, GreenCapacity="2", GreenDesiredCapacity="2")
    assert release(fake) == 0
    assert fake.changes()[0] == {"BlueWeight": "90", "GreenWeight": "10"}


@pytest.mark.parametrize(("blue", "green", "capacity"), [("50", "50", "2"), ("100", "0", "0")])
def test_no_release_without_one_live_colour(blue, green, capacity):
    fake = FakeAws(BlueWeight=blue, GreenWeight=green, BlueCapacity=capacity)
    assert release(fake) == 1
    assert fake.updates == []


def test_the_new_colour_starts_at_the_live_colours_current_size_not_its_minimum():
    # Autoscaling grew blue from its minimum of 2 to 7 under load.
    fake = FakeAws()
    fake.current_sizes["Blue"] = "7"
    assert release(fake) == 0
    assert fake.changes()[0] == {
        "GreenImageTag": "new",
        "GreenAmiId": LATEST_AMI,
        "GreenCapacity": "2",  # the floor autoscaling keeps it above
        "GreenDesiredCapacity": "7",  # the size it takes the traffic at
    }


def test_the_web_tier_takes_the_service_stacks_shared_values_before_the_release():
    # Set once, in the service stack: a new allowed host and a lower alarm threshold.
    fake = FakeAws()
    fake.service_parameters.update(AllowedHosts="api.shop.example.com,new.shop.example.com", Alarm5xxPercent="2")
    fake.service_parameters["ImageTag"] = "unrelated"  # a parameter the web stack does not have
    assert release(fake, "--service-stack", SERVICE_STACK) == 0
    assert fake.changes()[0] == {"Alarm5xxPercent": "2", "AllowedHosts": "api.shop.example.com,new.shop.example.com"}
    assert fake.changes()[1]["GreenImageTag"] == "new"
    assert fake.parameters["AllowedHosts"] == "api.shop.example.com,new.shop.example.com"


def test_the_payments_web_tier_takes_the_stripe_parameters_of_its_service_stack():
    fake = FakeAws()
    fake.parameters["ServiceName"] = fake.service_parameters["ServiceName"] = "payments"
    stripe = {
        "PaymentsProvider": "stripe",
        "StripeSecretKeySecretArn": secret_arn("shopstack/payments/stripe-secret-key"),
        "StripeWebhookSecretSecretArn": secret_arn("shopstack/payments/stripe-webhook-secret"),
    }
    fake.service_parameters.update(stripe)

    assert release(fake, "--service-stack", SERVICE_STACK) == 0
    assert fake.changes()[0] == stripe
    assert {key: fake.parameters[key] for key in stripe} == stripe


def test_nothing_to_take_means_no_extra_update():
    fake = FakeAws()
    assert release(fake, "--service-stack", SERVICE_STACK) == 0
    assert fake.changes()[0]["GreenImageTag"] == "new"


def test_a_service_stack_of_another_service_is_refused():
    fake = FakeAws()
    fake.service_parameters["ServiceName"] = "orders"
    assert release(fake, "--service-stack", SERVICE_STACK) == 1
    assert fake.updates == []


def test_the_pipeline_release_passes_the_service_stack():
    buildspec = (ROOT / "deploy" / "buildspec-release.yml").read_text()
    assert '--service-stack "${STACK_PREFIX}${SERVICE}"' in buildspec
