"""Application metrics for CloudWatch in the embedded metric format: one JSON line on stdout, which
the container's log driver sends to CloudWatch Logs, where it becomes a metric (no API call, so no
IAM permission and no latency on the caller). Off unless METRICS_EMBEDDED is set (the templates
set it): locally the line would only be noise."""

from __future__ import annotations

import json
import sys
import time

from django.conf import settings

NAMESPACE = "ShopStack"


def metric_emit(
    *,
    name: str,
    value: float,
    unit: str,
    dimensions: dict[str, str],
    dimension_sets: list[list[str]] | None = None,
) -> None:
    """Record one value of metric `name`. `dimensions` holds every dimension's value;
    `dimension_sets` the combinations CloudWatch aggregates it under (each becomes a metric of its
    own, e.g. [["Service"], ["Service", "Reason"]]); by default all of `dimensions` together."""
    if not settings.METRICS_EMBEDDED:
        return
    sets = dimension_sets if dimension_sets is not None else [list(dimensions)]
    unknown = {key for keys in sets for key in keys} - set(dimensions)
    if unknown:
        raise ValueError(f"metric {name}: no value for dimension(s) {', '.join(sorted(unknown))}")
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": sets, "Metrics": [{"Name": name, "Unit": unit}]}
            ],
        },
        **dimensions,
        name: value,
    }
    # Not through logging: CloudWatch reads the metric only from a line that is this object alone.
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
