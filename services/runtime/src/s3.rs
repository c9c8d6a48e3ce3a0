//! The S3 client.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use secrecy::ExposeSecret as _;

use crate::config::S3Config;

/// An S3 client for the configured endpoint and region. Static credentials are used when both
/// are configured; otherwise the default AWS chain (environment, profile, IRSA, instance role).
pub async fn client(config: &S3Config) -> aws_sdk_s3::Client {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let (Some(access_key_id), Some(secret)) = (&config.access_key_id, &config.secret_access_key)
    {
        loader = loader.credentials_provider(Credentials::new(
            access_key_id,
            secret.expose_secret(),
            None,
            None,
            "resi-config",
        ));
    }
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let s3_config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}
