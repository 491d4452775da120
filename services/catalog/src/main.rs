//! The `catalog` binary: everything lives in the library so tests build the same application.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bss_common::run_service(&catalog::SPEC, catalog::routes).await
}
