//! Prometheus metrics: the recorder, the names every service shares, and the HTTP middleware.
//!
//! Names follow DESIGN.md §4 and carry a `service` label set at each call site rather than as a global label,
//! because a test process can host several services at once (the order tests start catalog and customer
//! in-process). `route` is the matched pattern (`/tmf-api/.../productOffering/{id}`), never the raw path, so
//! cardinality stays bounded; requests no route matched share the `unmatched` route.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

pub const HTTP_REQUESTS_TOTAL: &str = "bss_oss_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "bss_oss_http_request_duration_seconds";
pub const ACTIVE_CONNECTIONS: &str = "bss_oss_active_connections";
pub const DB_POOL_CONNECTIONS: &str = "bss_oss_db_pool_connections";
pub const DB_POOL_MAX: &str = "bss_oss_db_pool_max_connections";
pub const DEPENDENCY_UP: &str = "bss_oss_dependency_up";
pub const AUTH_DENIED_TOTAL: &str = "bss_oss_auth_denied_total";
pub const AUDIT_EVENTS_TOTAL: &str = "bss_oss_audit_events_total";
pub const AUDIT_EVENTS_DROPPED: &str = "bss_oss_audit_events_dropped_total";
pub const AUDIT_PURGED_TOTAL: &str = "bss_oss_audit_events_purged_total";
pub const BUILD_INFO: &str = "bss_oss_build_info";
pub const PANICS_TOTAL: &str = "bss_oss_http_panics_total";
pub const CACHE_REQUESTS_TOTAL: &str = "bss_oss_cache_requests_total";
/// TMF events written to the service's Redis Stream by the outbox relay, by `event_type`.
pub const EVENTS_PUBLISHED_TOTAL: &str = "bss_oss_events_published_total";
/// Outbox rows not yet on the stream.
pub const OUTBOX_BACKLOG: &str = "bss_oss_outbox_backlog";
/// Delivery attempts to `/hub` listeners, by `outcome` (`delivered`, `retry`, `failed`).
pub const LISTENER_DELIVERIES_TOTAL: &str = "bss_oss_listener_deliveries_total";
/// Billing: bill runs per account, by `kind` (`cycle`, `onDemand`) and `outcome` (`issued`, `nothing_to_bill`,
/// `already_run`, `failed`).
pub const BILL_RUNS_TOTAL: &str = "bss_oss_bill_runs_total";
/// Billing: bills issued (bill number allocated), by `category` (`normal`, `credit`).
pub const BILLS_ISSUED_TOTAL: &str = "bss_oss_bills_issued_total";
/// Billing: tax-included amounts of issued bills in minor units, by `currency`.
pub const BILLED_AMOUNT_MINOR_TOTAL: &str = "bss_oss_billed_amount_minor_total";
/// Billing: order events handled by the order-event consumer, by `outcome` (`applied`, `duplicate`, `malformed`,
/// `unresolvable`, `dead_lettered`).
pub const EVENTS_CONSUMED_TOTAL: &str = "bss_oss_events_consumed_total";
/// Billing: entries of the order stream not yet delivered to the billing consumer group, by `stream`, `group`.
pub const CONSUMER_LAG: &str = "bss_oss_consumer_lag";
/// Billing: entries delivered to the billing consumer group and not yet acknowledged, by `stream`, `group`.
pub const CONSUMER_PENDING: &str = "bss_oss_consumer_pending";
/// Order: orders entering a TMF622 state (creation counts as entering `acknowledged`), by `state`.
pub const ORDER_STATE_TRANSITIONS_TOTAL: &str = "bss_oss_order_state_transitions_total";

/// Latency buckets in seconds: fine below 100 ms where a healthy BSS read lives, coarse up to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use and returns the handle that renders `/metrics`.
pub fn recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
                .expect("latency buckets are a valid constant")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests served, by service, method, matched route and status.");
    describe_histogram!(HTTP_REQUEST_DURATION, Unit::Seconds, "HTTP request latency from first byte in to response.");
    describe_gauge!(ACTIVE_CONNECTIONS, "Open client connections to the HTTP server.");
    describe_gauge!(DB_POOL_CONNECTIONS, "PostgreSQL pool connections, by state (idle or in_use).");
    describe_gauge!(DB_POOL_MAX, "Configured maximum size of the PostgreSQL pool.");
    describe_gauge!(DEPENDENCY_UP, "1 when the dependency answered the last health check, else 0.");
    describe_counter!(AUTH_DENIED_TOTAL, "Requests refused by authentication or authorisation, by reason.");
    describe_counter!(AUDIT_EVENTS_TOTAL, "Audit records written, by category.");
    describe_counter!(
        AUDIT_EVENTS_DROPPED,
        "Audit records lost because the audit queue was full or the database failed."
    );
    describe_counter!(AUDIT_PURGED_TOTAL, "Audit records deleted by the retention purge.");
    describe_gauge!(BUILD_INFO, "Always 1; labels carry the service name and version.");
    describe_counter!(PANICS_TOTAL, "Handler panics turned into 500 responses.");
    describe_counter!(CACHE_REQUESTS_TOTAL, "Read-through cache lookups, by outcome (hit, miss, unavailable).");
    describe_counter!(EVENTS_PUBLISHED_TOTAL, "TMF events published to the service's Redis Stream, by event type.");
    describe_gauge!(
        OUTBOX_BACKLOG,
        "Events committed to the outbox but not yet on the Redis Stream (every replica reports the same count)."
    );
    describe_counter!(BILL_RUNS_TOTAL, "Bill runs per account, by kind (cycle, onDemand) and outcome.");
    describe_counter!(BILLS_ISSUED_TOTAL, "Customer bills issued (bill number allocated), by category.");
    describe_counter!(BILLED_AMOUNT_MINOR_TOTAL, "Tax-included amount of issued bills in minor units, by currency.");
    describe_counter!(EVENTS_CONSUMED_TOTAL, "Order events handled by the billing consumer, by outcome.");
    describe_gauge!(CONSUMER_LAG, "Order-stream entries not yet delivered to the billing consumer group.");
    describe_gauge!(CONSUMER_PENDING, "Order-stream entries delivered to the billing group and not yet acknowledged.");
    describe_counter!(ORDER_STATE_TRANSITIONS_TOTAL, "Product orders entering a TMF622 state, by state.");
    describe_counter!(
        LISTENER_DELIVERIES_TOTAL,
        "Event deliveries to /hub listeners, by outcome: delivered, retry (will be tried again) or failed (given up)."
    );
}

/// The name of the service a request is being served by, kept in app data for the middleware.
#[derive(Debug, Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// Counts and times every request with its matched route pattern.
pub async fn record_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let service = req.app_data::<ServiceName>().map(|s| s.0).unwrap_or("unknown");
    let method = req.method().as_str().to_owned();
    // Resolved against the route table before routing, so errors (which carry no request) are labelled too.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let outcome = next.call(req).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    }
    .as_u16()
    .to_string();
    counter!(HTTP_REQUESTS_TOTAL, "service" => service, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    histogram!(HTTP_REQUEST_DURATION, "service" => service, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    outcome
}

/// Lives in a connection's extensions; counts the connection while it is open.
#[derive(Debug)]
pub struct ConnectionGauge(&'static str);

impl ConnectionGauge {
    pub fn open(service: &'static str) -> Self {
        gauge!(ACTIVE_CONNECTIONS, "service" => service).increment(1.0);
        Self(service)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        gauge!(ACTIVE_CONNECTIONS, "service" => self.0).decrement(1.0);
    }
}

/// Publishes the PostgreSQL pool's state; called right before each render so the numbers are current.
pub fn record_db_pool(service: &'static str, pool: &sqlx::PgPool, max: u32) {
    let size = pool.size();
    let idle = pool.num_idle() as u32;
    gauge!(DB_POOL_CONNECTIONS, "service" => service, "state" => "idle").set(f64::from(idle));
    gauge!(DB_POOL_CONNECTIONS, "service" => service, "state" => "in_use").set(f64::from(size.saturating_sub(idle)));
    gauge!(DB_POOL_MAX, "service" => service).set(f64::from(max));
}

/// Marks the service's build in the metrics (for dashboards that show versions).
pub fn record_build_info(service: &'static str, version: &'static str) {
    gauge!(BUILD_INFO, "service" => service, "version" => version).set(1.0);
}
