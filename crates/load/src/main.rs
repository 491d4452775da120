//! `bss-load`: runs the load scenario against the local stack (or any base URLs) and prints the report.
//! Exit status 0 when every invariant held, 2 when one did not, 1 when the run could not be made. SIGINT or
//! SIGTERM ends the load early; the run still settles and verifies.

use bss_common::auth::{ALL_SCOPES, mint_from_env};
use bss_load::client::Targets;
use bss_load::{Options, report};
use std::time::Duration;

const USAGE: &str = "usage: bss-load [--duration SECS | --journeys N] [--concurrency N] [--rate JOURNEYS_PER_SEC]
                [--cancel-every N] [--bill-batch N] [--order-timeout SECS] [--settle-timeout SECS]
                [--json FILE] [--no-progress]
                [--base-url URL | --catalog-url URL --customer-url URL --order-url URL --billing-url URL]
                [--token TOKEN]

Targets default to CATALOG_URL, CUSTOMER_URL, ORDER_URL and BILLING_URL (eval \"$(make -s env)\" sets them);
the token to BSS_TOKEN, else one is signed with JWT_SECRET (the local stack's). Without --duration or
--journeys the load runs for 30 s.";

fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_args() -> anyhow::Result<(Options, Option<String>)> {
    let mut base = None;
    let mut urls: [Option<String>; 4] =
        [env_url("CATALOG_URL"), env_url("CUSTOMER_URL"), env_url("ORDER_URL"), env_url("BILLING_URL")];
    let mut token = env_url("BSS_TOKEN");
    let mut options = Options {
        targets: Targets {
            catalog: String::new(),
            customer: String::new(),
            order: String::new(),
            billing: String::new(),
        },
        token: String::new(),
        concurrency: 8,
        rate: None,
        duration: None,
        journeys: None,
        cancel_every: 10,
        bill_batch: 25,
        order_timeout: Duration::from_secs(60),
        settle_timeout: Duration::from_secs(60),
        progress: true,
    };
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-progress" {
            options.progress = false;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| v.trim_end_matches('s').parse::<f64>().map_err(|e| anyhow::anyhow!("{flag}: {e}"));
        match flag.as_str() {
            "--duration" => options.duration = Some(Duration::from_secs_f64(number(&value)?)),
            "--journeys" => options.journeys = Some(value.parse()?),
            "--concurrency" => options.concurrency = value.parse()?,
            "--rate" => options.rate = Some(number(&value)?),
            "--cancel-every" => options.cancel_every = value.parse()?,
            "--bill-batch" => options.bill_batch = value.parse::<usize>()?.max(1),
            "--order-timeout" => options.order_timeout = Duration::from_secs_f64(number(&value)?),
            "--settle-timeout" => options.settle_timeout = Duration::from_secs_f64(number(&value)?),
            "--json" => json = Some(value),
            "--base-url" => base = Some(value),
            "--catalog-url" => urls[0] = Some(value),
            "--customer-url" => urls[1] = Some(value),
            "--order-url" => urls[2] = Some(value),
            "--billing-url" => urls[3] = Some(value),
            "--token" => token = Some(value),
            other => anyhow::bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if options.duration.is_none() && options.journeys.is_none() {
        options.duration = Some(Duration::from_secs(30));
    }
    let names = ["catalog (--catalog-url or CATALOG_URL)", "customer", "order", "billing"];
    let mut resolved = Vec::new();
    for (url, name) in urls.into_iter().zip(names) {
        let url = base.clone().or(url).ok_or_else(|| anyhow::anyhow!("no URL for {name}\n{USAGE}"))?;
        resolved.push(url.trim_end_matches('/').to_owned());
    }
    let [catalog, customer, order, billing]: [String; 4] = resolved.try_into().expect("four URLs");
    options.targets = Targets { catalog, customer, order, billing };
    options.token = match token {
        Some(token) => token,
        None => mint_from_env("bss-load", &ALL_SCOPES.join(" "), 24 * 3_600)?,
    };
    Ok((options, json))
}

#[tokio::main]
async fn main() {
    let (options, json) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("bss-load: {e}");
            std::process::exit(1);
        }
    };
    tokio::spawn(async {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        eprintln!("bss-load: stopping the load; settling and verifying");
        bss_load::request_stop();
    });
    let outcome = match bss_load::run(options).await {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("bss-load: the run could not start: {e:#}");
            std::process::exit(1);
        }
    };
    print!("{}", report::text(&outcome));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report::json(&outcome)).expect("the report serialises");
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("bss-load: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
    std::process::exit(if outcome.passed() { 0 } else { 2 });
}
