//! The end-of-run report: a table per operation (requests, errors, rate, latency percentiles) for the load
//! phase and for settling and verifying, the journeys by outcome, the bill runs, and the invariant check —
//! as text for people and as JSON (`--json FILE`) for the benchmark and chaos scripts.

use crate::Outcome;
use crate::stats::OperationSummary;
use serde_json::{Value, json};
use std::fmt::Write;

/// Operations of the settle and verify phases (everything else is the load itself).
fn is_load_operation(name: &str) -> bool {
    !(name == "setup" || name.starts_with("verify.") || name.starts_with("billing.billRun."))
}

fn operations(outcome: &Outcome) -> (Vec<OperationSummary>, Vec<OperationSummary>) {
    outcome.stats.summaries(outcome.elapsed_load).into_iter().partition(|s| is_load_operation(&s.operation))
}

/// The report as text.
pub fn text(outcome: &Outcome) -> String {
    let (load, settle) = operations(outcome);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nload phase: {:.1} s ({:.1} s with settling and verifying)",
        outcome.elapsed_load.as_secs_f64(),
        outcome.elapsed_total.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<30} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "operation", "requests", "errors", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for s in load.iter().chain(settle.iter()) {
        let rate = if is_load_operation(&s.operation) { format!("{:.1}", s.per_second) } else { "-".into() };
        let _ = writeln!(
            out,
            "{:<30} {:>9} {:>7} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            s.operation, s.requests, s.errors, rate, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
        );
    }
    let errors: Vec<String> = load
        .iter()
        .chain(settle.iter())
        .flat_map(|s| s.error_kinds.iter().map(move |(kind, n)| format!("{}: {kind} ×{n}", s.operation)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "errors: {}", errors.join("; "));
    }
    let v = &outcome.verification;
    let outcomes: Vec<String> = v.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "journeys: {} ({})", v.journeys, outcomes.join(", "));
    let b = &outcome.bill_runs;
    let f = &outcome.final_bill_runs;
    let r = &outcome.repeated_bill_runs;
    let _ = writeln!(
        out,
        "bill runs during load: {} requests, {} accounts, {} bills issued, {} nothing to bill, {} already run, {} failed",
        b.requests, b.accounts, b.bills_issued, b.nothing_to_bill, b.already_run, b.failed
    );
    let _ = writeln!(
        out,
        "final bill runs: {} accounts, {} bills issued, {} nothing to bill, {} failed; billed a cycle late: {}",
        f.accounts, f.bills_issued, f.nothing_to_bill, f.failed, outcome.billed_late
    );
    let _ = writeln!(
        out,
        "repeated bill runs: {} accounts, {} bills issued (must be 0), {} already run",
        r.accounts, r.bills_issued, r.already_run
    );
    let _ = writeln!(
        out,
        "billing holds {} bills, {} charges, {:.2} EUR tax included",
        v.bills,
        v.rates,
        v.billed_tax_included_minor as f64 / 100.0
    );
    if outcome.passed() {
        let _ = writeln!(
            out,
            "invariants: OK (every completed order billed exactly once, nothing else charged, every bill adds up)"
        );
    } else {
        let _ = writeln!(out, "invariants: {} VIOLATION(S)", v.violations.len());
        for violation in v.violations.iter().take(50) {
            let _ = writeln!(
                out,
                "  journey {} account {} order {}: {}",
                violation.journey,
                violation.account.as_deref().unwrap_or("-"),
                violation.order.as_deref().unwrap_or("-"),
                violation.problem
            );
        }
        if r.bills_issued > 0 {
            let _ = writeln!(out, "  repeating the bill runs issued {} bill(s)", r.bills_issued);
        }
    }
    out
}

/// The report as JSON.
pub fn json(outcome: &Outcome) -> Value {
    let (load, settle) = operations(outcome);
    json!({
        "passed": outcome.passed(),
        "elapsedLoadSecs": outcome.elapsed_load.as_secs_f64(),
        "elapsedTotalSecs": outcome.elapsed_total.as_secs_f64(),
        "operations": load,
        "settleOperations": settle,
        "requests": load.iter().map(|s| s.requests).sum::<u64>(),
        "errors": load.iter().map(|s| s.errors).sum::<u64>(),
        "billRuns": {"duringLoad": outcome.bill_runs, "final": outcome.final_bill_runs,
                     "repeated": outcome.repeated_bill_runs, "billedLate": outcome.billed_late},
        "verification": outcome.verification,
    })
}
