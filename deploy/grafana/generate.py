#!/usr/bin/env python3
"""Generates the Grafana dashboards of bss-oss-rust (the JSON files next to this script).

    python3 deploy/grafana/generate.py          # rewrite bss-oss-overview.json and bss-oss-business.json
    python3 deploy/grafana/generate.py --check  # exit 1 if a committed JSON differs from what this produces

Edit this script, not the JSON: scripts/check/observability.sh fails when they disagree. Every query goes to
the provisioned Prometheus data source (uid `prometheus`, docker/grafana/provisioning/datasources) and every
panel filters on the `service` variable. Standard library only.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "prometheus"}
SVC = 'service=~"$service"'
RI = "$__rate_interval"


class Layout:
    """Places panels left to right on Grafana's 24-column grid and hands out unique ids."""

    def __init__(self):
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        pid, self.next_id = self.next_id, self.next_id + 1
        return pid, pos


def targets(queries, instant=False):
    out = []
    for i, q in enumerate(queries):
        expr, legend = q if isinstance(q, tuple) else (q, "")
        t = {"datasource": DS, "refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend or "__auto"}
        if instant:
            t.update({"instant": True, "range": False})
        else:
            t.update({"instant": False, "range": True})
        out.append(t)
    return out


def timeseries(layout, title, description, queries, unit="short", w=12, h=8, stack=False, min0=True):
    pid, pos = layout.place(w, h)
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults = {"unit": unit, "custom": custom}
    if min0:
        defaults["min"] = 0
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": pos,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets(queries),
    }


def stat(layout, title, description, queries, unit="short", w=6, h=4, mappings=None, thresholds=None, decimals=None):
    pid, pos = layout.place(w, h)
    defaults = {
        "unit": unit,
        "mappings": mappings or [],
        "thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "green", "value": None}]},
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "id": pid,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": pos,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "targets": targets(queries, instant=True),
    }


def dashboard(uid, title, description, panels):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["bss-oss-rust"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {"list": []},
        "links": [
            {"title": "Runbooks", "type": "link", "icon": "doc", "targetBlank": True,
             "url": "https://github.com/bss-oss-rust/bss-oss-rust/blob/main/docs/operations.md#alert-runbooks"},
        ],
        "templating": {
            "list": [
                {
                    "name": "service",
                    "label": "Service",
                    "type": "query",
                    "datasource": DS,
                    "definition": "label_values(bss_oss_build_info, service)",
                    "query": {"query": "label_values(bss_oss_build_info, service)", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "sort": 1,
                    "regex": "",
                    "options": [],
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "hide": 0,
                    "skipUrlSync": False,
                }
            ]
        },
        "panels": panels,
    }


UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                         "1": {"text": "UP", "color": "green", "index": 1}}}]
RED_ABOVE_0 = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def overview():
    L = Layout()
    rate = lambda m, by="service", sel="": f"sum by ({by}) (rate({m}{{{SVC}{sel}}}[{RI}]))"
    q = lambda p: (f"histogram_quantile({p}, sum by (le, service) (rate(bss_oss_http_request_duration_seconds_bucket{{{SVC}}}[{RI}])))",
                   f"{{{{service}}}} p{int(float(p) * 100)}")
    panels = [
        stat(L, "Version", "Running version per service (bss_oss_build_info); more than one value per service means a rollout in progress.",
             [(f"count by (service, version) (bss_oss_build_info{{{SVC}}})", "{{service}} {{version}}")], w=8),
        stat(L, "Dependencies", "Last probe of PostgreSQL and Redis per service (worst replica).",
             [(f"min by (service, dependency) (bss_oss_dependency_up{{{SVC}}})", "{{service}} {{dependency}}")],
             w=8, mappings=UP_DOWN, thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat(L, "Handler panics (range)", "Request handlers that panicked in the selected time range (alert BssHandlerPanics).",
             [(f"sum by (service) (increase(bss_oss_http_panics_total{{{SVC}}}[$__range]))", "{{service}}")],
             w=8, thresholds=RED_ABOVE_0, decimals=0),
        timeseries(L, "Request rate", "HTTP requests per second per service.",
                   [(rate("bss_oss_http_requests_total"), "{{service}}")], unit="reqps"),
        timeseries(L, "Latency p50 / p95 / p99", "Request duration quantiles per service from the histogram buckets (alert BssHighLatency: p99 > 1 s for 10m).",
                   [q("0.50"), q("0.95"), q("0.99")], unit="s"),
        timeseries(L, "5xx error ratio", "Share of requests answered 5xx per service; services without traffic show no value (alert BssHighErrorRate: > 5 % for 5m).",
                   [(rate("bss_oss_http_requests_total", sel=', status=~"5.."') + " / (" + rate("bss_oss_http_requests_total") + " > 0)",
                     "{{service}}")],
                   unit="percentunit"),
        timeseries(L, "Requests by status", "HTTP requests per second per service and status code.",
                   [(rate("bss_oss_http_requests_total", by="service, status"), "{{service}} {{status}}")], unit="reqps"),
        timeseries(L, "Active connections", "Open HTTP connections per service (all replicas).",
                   [(f"sum by (service) (bss_oss_active_connections{{{SVC}}})", "{{service}}")]),
        timeseries(L, "DB pool in use vs max", "Database connections in use against the pool size, summed over replicas (alert BssDbPoolSaturated: > 90 % for 5m).",
                   [(f"sum by (service) (bss_oss_db_pool_connections{{{SVC}, state=\"in_use\"}})", "{{service}} in use"),
                    (f"sum by (service) (bss_oss_db_pool_connections{{{SVC}, state=\"idle\"}})", "{{service}} idle"),
                    (f"sum by (service) (bss_oss_db_pool_max_connections{{{SVC}}})", "{{service}} max")]),
        timeseries(L, "Dependency up", "1 when the last probe of the dependency succeeded, per service (worst replica; alert BssDependencyDown).",
                   [(f"min by (service, dependency) (bss_oss_dependency_up{{{SVC}}})", "{{service}} {{dependency}}")]),
        timeseries(L, "Auth denials", "Requests refused by authentication or authorisation per second, by reason.",
                   [(rate("bss_oss_auth_denied_total", by="service, reason"), "{{service}} {{reason}}")]),
        timeseries(L, "Cache requests by outcome", "Redis cache lookups per second by outcome (unavailable: Redis unreachable, the service reads PostgreSQL).",
                   [(rate("bss_oss_cache_requests_total", by="service, outcome"), "{{service}} {{outcome}}")]),
        timeseries(L, "Audit events", "Audit events written per second by category, and events dropped (queue full) or purged (retention).",
                   [(rate("bss_oss_audit_events_total", by="service, category"), "{{service}} {{category}}"),
                    (rate("bss_oss_audit_events_dropped_total"), "{{service}} dropped"),
                    (rate("bss_oss_audit_events_purged_total"), "{{service}} purged")]),
    ]
    return dashboard("bss-oss-overview", "bss-oss-rust / Overview",
                     "Golden signals of the four services: traffic, latency, errors, saturation and dependencies.", panels)


def business():
    L = Layout()
    rate = lambda m, by, sel="": f"sum by ({by}) (rate({m}{{{SVC}{sel}}}[{RI}]))"
    inc_range = lambda m, by, sel="": f"sum by ({by}) (increase({m}{{{SVC}{sel}}}[$__range]))"
    amount_desc = ("Amounts billed in the selected range per currency, in major units: the counter counts minor units "
                   "and is divided by 100, which assumes 2-decimal currencies (EUR, USD, ...); JPY or BHD read wrong.")
    panels = [
        stat(L, "Orders completed (range)", "Product orders that reached `completed` in the selected range.",
             [(inc_range("bss_oss_order_state_transitions_total", "service", ', state="completed"'), "completed")], decimals=0),
        stat(L, "Orders failed (range)", "Product orders that reached `failed` in the selected range.",
             [(inc_range("bss_oss_order_state_transitions_total", "service", ', state="failed"'), "failed")],
             thresholds=RED_ABOVE_0, decimals=0),
        stat(L, "Bills issued (range)", "Customer bills issued in the selected range by category (credit: a negative balance).",
             [(inc_range("bss_oss_bills_issued_total", "category"), "{{category}}")], decimals=0),
        stat(L, "Amount billed (range)", amount_desc,
             [(f"{inc_range('bss_oss_billed_amount_minor_total', 'currency')} / 100", "{{currency}}")], decimals=2),
        timeseries(L, "Orders entering each state", "Product order state transitions per second by the state entered.",
                   [(rate("bss_oss_order_state_transitions_total", "state"), "{{state}}")], w=24),
        timeseries(L, "Events published by type", "Domain events published per second by the outbox relays, per service and event type.",
                   [(rate("bss_oss_events_published_total", "service, event_type"), "{{service}} {{event_type}}")]),
        timeseries(L, "Events consumed by outcome", "Order events consumed by billing per second by outcome: applied, duplicate (already applied), malformed and "
                   "unresolvable (left pending, retried), dead_lettered (given up; alert BssEventsDeadLettered).",
                   [(rate("bss_oss_events_consumed_total", "service, outcome"), "{{service}} {{outcome}}")]),
        timeseries(L, "Outbox backlog", "Events waiting in each service's outbox (alert BssOutboxBacklog).",
                   [(f"max by (service) (bss_oss_outbox_backlog{{{SVC}}})", "{{service}}")]),
        timeseries(L, "Consumer lag and pending", "Entries of the stream not yet delivered to the consumer group (lag) and delivered but not acknowledged (pending); alert BssConsumerLag on the sum above 1000, or on entries pending while nothing is acknowledged.",
                   [(f"max by (stream, group) (bss_oss_consumer_lag{{{SVC}}})", "lag {{stream}} / {{group}}"),
                    (f"max by (stream, group) (bss_oss_consumer_pending{{{SVC}}})", "pending {{stream}} / {{group}}")]),
        timeseries(L, "Bill runs by kind and outcome", "Bill runs per second: cycle (issued, nothing_to_bill, already_run, failed) and on demand (done, rejected, terminatedWithError); alert BssBillRunFailed.",
                   [(rate("bss_oss_bill_runs_total", "kind, outcome"), "{{kind}} {{outcome}}")]),
        timeseries(L, "Bills issued", "Customer bills issued per second by category.",
                   [(rate("bss_oss_bills_issued_total", "category"), "{{category}}")]),
        timeseries(L, "Amount billed by currency", "Amount billed per second in major units per currency: minor units divided by 100, which assumes 2-decimal currencies.",
                   [(f"{rate('bss_oss_billed_amount_minor_total', 'currency')} / 100", "{{currency}}")]),
        timeseries(L, "Hub listener deliveries", "Notifications to /hub listeners per second by outcome (failed: given up; alert BssListenerDeliveriesFailing).",
                   [(rate("bss_oss_listener_deliveries_total", "service, outcome"), "{{service}} {{outcome}}")]),
    ]
    return dashboard("bss-oss-business", "bss-oss-rust / Business",
                     "Orders, events, outbox and stream consumers, bill runs and amounts billed.", panels)


DASHBOARDS = {"bss-oss-overview.json": overview, "bss-oss-business.json": business}


def render(build):
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(HERE, name)
        text = render(build)
        if check:
            try:
                current = open(path, encoding="utf-8").read()
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print(f"deploy/grafana: {', '.join(stale)} differ from generate.py's output; run python3 deploy/grafana/generate.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
