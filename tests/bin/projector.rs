//! The projector process exactly as `resi-projector` runs it, built beside the tests.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    resi_projector::service_main().await
}
