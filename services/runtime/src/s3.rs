//! The AWS clients' shared settings and the S3 client.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region};
use secrecy::ExposeSecret as _;

use crate::config::S3Config;

/// AWS settings for the configured region and credentials, with `endpoint` (for S3- or
/// SQS-compatible services) when given. Static credentials are used when both are configured;
/// otherwise the default AWS chain (environment, profile, IRSA, instance role).
pub async fn sdk_config(config: &S3Config, endpoint: Option<&str>) -> SdkConfig {
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
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An S3 client for the configured endpoint, region and credentials.
pub async fn client(config: &S3Config) -> aws_sdk_s3::Client {
    let shared = sdk_config(config, config.endpoint.as_deref()).await;
    let s3_config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}
