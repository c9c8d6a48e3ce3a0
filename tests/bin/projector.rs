//! The projector process exactly as `resi projector` runs it, built beside the tests.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = resi_runtime::service::config_file(
        std::env::args(),
        "usage: resi-test-projector [--config FILE]",
    )?;
    resi_projector::service_main(file.as_deref()).await
}
