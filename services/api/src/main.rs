//! `resi-api`: the projections, read-only, over HTTP.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    resi_api::service_main().await
}
