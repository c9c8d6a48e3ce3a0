//! `resi api-key create | list | revoke`: the API keys whose tiers get larger quotas. Only a
//! blake3 hash of a key is stored; the key is printed once, when it is created.

use anyhow::Context as _;
use clap::Subcommand;
use rand::RngCore as _;

use crate::CtlConfig;

/// API key actions.
#[derive(Debug, Subcommand)]
pub enum ApiKeyAction {
    /// Create a key of a tier (a quota of the API's `api.tiers`) and print it, once.
    Create {
        /// Who the key is for.
        #[arg(long)]
        name: String,
        /// Its tier, e.g. `developer` or `enterprise`.
        #[arg(long)]
        tier: String,
    },
    /// List the keys (ids, names, tiers, never the keys).
    List,
    /// Revoke a key by its id; the API stops accepting it within `api.api_key_cache_ms`.
    Revoke {
        /// The key's id (its second part: `resi_<id>_…`).
        key_id: String,
    },
}

/// A new key and its id: `resi_<id>_<secret>`, 8 + 48 hex digits of randomness.
#[must_use]
pub fn new_key() -> (String, String) {
    let mut id = [0_u8; 4];
    let mut secret = [0_u8; 24];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    (format!("resi_{key_id}_{}", hex::encode(secret)), key_id)
}

/// Runs one action.
pub async fn run(action: ApiKeyAction, config: &CtlConfig) -> anyhow::Result<()> {
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    match action {
        ApiKeyAction::Create { name, tier } => {
            anyhow::ensure!(
                config.api.tiers.contains_key(&tier),
                "no tier {tier:?} in api.tiers (configured: {:?})",
                config.api.tiers.keys().collect::<Vec<_>>()
            );
            let (key, key_id) = new_key();
            client
                .execute(
                    "INSERT INTO api_keys (key_id, key_hash, name, tier) VALUES ($1, $2, $3, $4)",
                    &[
                        &key_id,
                        &resi_api::limit::key_hash(&key).as_slice(),
                        &name,
                        &tier,
                    ],
                )
                .await
                .context("failed to store the api key")?;
            println!("api key {key_id} ({tier}) for {name}: {key}");
            println!("it is shown once; send it as the x-api-key header");
        }
        ApiKeyAction::List => {
            let rows = client
                .query(
                    "SELECT key_id, name, tier, created_at, revoked_at FROM api_keys ORDER BY created_at",
                    &[],
                )
                .await
                .context("failed to list api keys")?;
            println!(
                "{:<10} {:<12} {:<24} {:<26} revoked",
                "id", "tier", "name", "created"
            );
            for row in rows {
                let created: chrono::DateTime<chrono::Utc> = row.get(3);
                let revoked: Option<chrono::DateTime<chrono::Utc>> = row.get(4);
                println!(
                    "{:<10} {:<12} {:<24} {:<26} {}",
                    row.get::<_, String>(0),
                    row.get::<_, String>(2),
                    row.get::<_, String>(1),
                    created.to_rfc3339(),
                    revoked.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339()),
                );
            }
        }
        ApiKeyAction::Revoke { key_id } => {
            let revoked = client
                .execute(
                    "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
                    &[&key_id],
                )
                .await
                .context("failed to revoke the api key")?;
            anyhow::ensure!(revoked == 1, "no active api key {key_id:?}");
            println!("api key {key_id} revoked");
        }
    }
    Ok(())
}
