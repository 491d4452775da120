//! A small run of the load generator against the four real services (each on its own fresh database,
//! order and billing sharing one Redis prefix, automatic fulfilment): every journey ends, every invariant
//! holds — and the same checker, pointed at the same accounts after billing's data was damaged behind the
//! API, reports the damage.

use bss_common::auth::ALL_SCOPES;
mod stack;

use bss_load::client::Api;
use bss_load::{Options, invariants};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_run_bills_every_completed_order_exactly_once_and_the_checker_sees_damage() {
    let stack = stack::stack().await;
    let options = Options {
        targets: stack.targets(),
        token: bss_testkit::token(ALL_SCOPES),
        concurrency: 3,
        rate: None,
        duration: None,
        journeys: Some(12),
        cancel_every: 3,
        bill_batch: 4,
        order_timeout: Duration::from_secs(60),
        settle_timeout: Duration::from_secs(30),
        progress: false,
    };
    let outcome = bss_load::run(options.clone()).await.unwrap();
    let report = bss_load::report::text(&outcome);
    assert!(outcome.passed(), "{report}");
    let json = bss_load::report::json(&outcome);
    assert_eq!(json["errors"], 0, "{report}");

    let verification = &outcome.verification;
    assert_eq!(verification.journeys, 12, "{report}");
    let completed = verification.outcomes.get("completed").copied().unwrap_or(0);
    let not_billed: u64 = ["cancelled", "gone (404)"].iter().filter_map(|k| verification.outcomes.get(*k)).sum();
    assert_eq!(completed + not_billed, 12, "every order final, completed or cancelled: {report}");
    // Journeys 0, 3, 6 and 9 ask to cancel; the others must all complete (and some cancels may lose the race).
    assert!(completed >= 8, "{report}");
    // Each completed order: installation + 2 products × 3 months (this cycle, the in-run bill, the final one).
    assert_eq!(verification.rates, completed * 7, "{report}");
    assert!(verification.bills >= completed, "{report}");
    // Repeating every account's last bill run finds each period done: every account already run, nothing issued.
    let repeated = &outcome.repeated_bill_runs;
    assert!(repeated.requests > 0, "{report}");
    assert_eq!((repeated.already_run, repeated.bills_issued), (repeated.accounts, 0), "{report}");
    assert!(repeated.accounts > 0, "{report}");

    // Damage behind the API: a bill whose tax-excluded total is one cent more than its charges (and its tax one
    // cent less, so the stored total still adds up), and a month charged twice on another account.
    let completed_accounts: Vec<String> = outcome
        .journeys
        .iter()
        .filter(|j| matches!(j.outcome, bss_load::scenario::OrderOutcome::Completed { .. }))
        .filter_map(|j| j.account_id.clone())
        .collect();
    let mut db = stack.billing.db().await;
    // Issued bills are frozen by a trigger (what the damage must get past, as a faulty release or a hand-made
    // fix in the database would).
    sqlx::query("ALTER TABLE customer_bill DISABLE TRIGGER USER").execute(&mut db).await.unwrap();
    sqlx::query(
        "UPDATE customer_bill SET tax_excluded_minor = tax_excluded_minor + 1, tax_minor = tax_minor - 1
         WHERE id = (SELECT id FROM customer_bill WHERE billing_account_id = $1 LIMIT 1)",
    )
    .bind(&completed_accounts[0])
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO applied_rate (id, charge_key, billable_product_id, billing_account_id, kind, name, amount_minor,
                                   currency, covers_start, covers_end, chargeable_on, created_at)
         SELECT gen_random_uuid(), charge_key || ':again', billable_product_id, billing_account_id, kind, name,
                amount_minor, currency, covers_start, covers_end, chargeable_on, created_at
         FROM applied_rate WHERE billing_account_id = $1 AND kind = 'recurring' LIMIT 1",
    )
    .bind(&completed_accounts[1])
    .execute(&mut db)
    .await
    .unwrap();

    let api = Api::new(stack.targets(), options.token.clone(), Arc::new(bss_load::stats::Stats::default())).unwrap();
    let again = invariants::verify(&api, &outcome.journeys, &outcome.last_bill_dates).await;
    let on = |account: &str| -> Vec<String> {
        again.violations.iter().filter(|v| v.account.as_deref() == Some(account)).map(|v| v.problem.clone()).collect()
    };
    let first = on(&completed_accounts[0]);
    assert!(first.iter().any(|p| p.contains("Σ its charges")), "{first:#?}");
    let second = on(&completed_accounts[1]);
    assert!(second.iter().any(|p| p.contains("charged twice")), "{second:#?}");
    assert!(second.iter().any(|p| p.contains("not on a bill")), "{second:#?}");
    assert_eq!(again.violations.len(), first.len() + second.len(), "nothing else is reported: {:#?}", again.violations);
}
