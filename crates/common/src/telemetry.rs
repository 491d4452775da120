//! Structured logs and distributed traces.
//!
//! One `tracing` subscriber feeds two outputs:
//! - JSON log lines on stdout, one object per event, each carrying the OpenTelemetry `trace_id` and `span_id`
//!   of the span it happened in, so a log line can be found from a trace in Jaeger and the other way round;
//! - OpenTelemetry spans, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (protocol from
//!   `OTEL_EXPORTER_OTLP_PROTOCOL`, sampler from `OTEL_TRACES_SAMPLER`, resource from `OTEL_SERVICE_NAME` and
//!   `OTEL_RESOURCE_ATTRIBUTES`, all read by the SDK itself).
//!
//! The OpenTelemetry layer is installed even when nothing is exported: it is what gives every span its ids,
//! and incoming `traceparent` headers are then still honoured in the log lines.

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber, span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the tracer provider alive and flushes it at shutdown.
#[derive(Debug, Clone)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl TelemetryGuard {
    /// Whether spans leave the process (an OTLP endpoint is configured).
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// Exports every finished span still buffered, then stops the exporter.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "flushing spans failed");
        }
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "tracer provider shutdown");
        }
    }
}

static GUARD: OnceLock<TelemetryGuard> = OnceLock::new();

/// Installs the global subscriber for `service` writing logs to stdout. Safe to call more than once per
/// process (tests start several apps in one process): the first call wins.
pub fn init(service: &'static str) -> TelemetryGuard {
    init_with_writer(service, std::io::stdout)
}

/// Like [`init`] with logs going to `writer` (tests capture log output this way).
pub fn init_with_writer<W>(service: &'static str, writer: W) -> TelemetryGuard
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_with(service, writer, None)
}

/// Like [`init_with_writer`], exporting OTLP/HTTP JSON to `otlp_endpoint` when given instead of reading the
/// `OTEL_EXPORTER_OTLP_*` variables (tests point it at an in-process receiver).
pub fn init_with<W>(service: &'static str, writer: W, otlp_endpoint: Option<&str>) -> TelemetryGuard
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    GUARD
        .get_or_init(|| {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            let exporting = otlp_endpoint.is_some()
                || std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.trim().is_empty())
                || std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_ok_and(|v| !v.trim().is_empty());
            let mut resource = opentelemetry_sdk::Resource::builder();
            if std::env::var("OTEL_SERVICE_NAME").is_err() {
                resource = resource.with_service_name(service);
            }
            let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
            if exporting {
                let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
                if let Some(endpoint) = otlp_endpoint {
                    use opentelemetry_otlp::WithExportConfig as _;
                    exporter = exporter
                        .with_endpoint(format!("{endpoint}/v1/traces"))
                        .with_protocol(opentelemetry_otlp::Protocol::HttpJson);
                }
                match exporter.build() {
                    Ok(exporter) => builder = builder.with_batch_exporter(exporter),
                    Err(e) => eprintln!("{{\"level\":\"ERROR\",\"message\":\"OTLP exporter disabled: {e}\"}}"),
                }
            }
            let provider = builder.build();
            opentelemetry::global::set_tracer_provider(provider.clone());
            let tracer = provider.tracer(service);

            let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(tracing_opentelemetry::layer().with_tracer(tracer))
                .with(JsonLogLayer::new(service, writer))
                .try_init();
            TelemetryGuard { provider, exporting }
        })
        .clone()
}

/// Writes one JSON object per event with the active trace and span ids.
pub struct JsonLogLayer<W> {
    service: &'static str,
    writer: W,
    dispatch: OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl<W> JsonLogLayer<W> {
    pub fn new(service: &'static str, writer: W) -> Self {
        Self { service, writer, dispatch: OnceLock::new() }
    }
}

/// Fields recorded on a span, kept in its extensions for the log lines of events inside it.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        self.0.insert(field.name().to_owned(), Value::from(text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::from(event.metadata().level().as_str()));
        line.insert("service".into(), Value::from(self.service));
        line.insert("target".into(), Value::from(event.metadata().target()));

        let span = ctx.event_span(event);
        if let Some(span) = &span {
            // Fields of every enclosing span, innermost winning, so request-level context (route, method)
            // appears on each line logged while serving that request.
            let mut context = Map::new();
            for ancestor in span.scope().from_root() {
                if let Some(SpanFields(fields)) = ancestor.extensions().get::<SpanFields>() {
                    context.extend(
                        fields.iter().filter(|(k, _)| !k.starts_with("otel.")).map(|(k, v)| (k.clone(), v.clone())),
                    );
                }
            }
            line.insert("span".into(), Value::from(span.name()));
            if !context.is_empty() {
                line.insert("context".into(), Value::Object(context));
            }
        }
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        if let Some(message) = fields.remove("message") {
            line.insert("message".into(), message);
        }
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }

        // No extension lock is held here, as get_otel_context requires.
        if let (Some(span), Some(dispatch)) = (&span, self.dispatch.get().and_then(|d| d.upgrade()))
            && let Some(cx) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)
        {
            let span_context = cx.span().span_context().clone();
            if span_context.is_valid() {
                line.insert("trace_id".into(), Value::from(span_context.trace_id().to_string()));
                line.insert("span_id".into(), Value::from(span_context.span_id().to_string()));
            }
        }

        let mut bytes = serde_json::to_vec(&Value::Object(line)).unwrap_or_default();
        bytes.push(b'\n');
        let _ = self.writer.make_writer().write_all(&bytes);
    }
}

/// The trace id of the current span, for error bodies and audit records.
pub fn current_trace_id() -> Option<String> {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// A writer that keeps every log line in memory (tests assert on log output with it).
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged so far, as text.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        std::io::stdout().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
