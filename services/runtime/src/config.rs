//! Layered configuration: defaults → optional TOML file → `RESI__SECTION__KEY` environment.
//!
//! The whole system shares one configuration namespace: a section per concern
//! ([`SECTIONS`]), so one file, one ConfigMap or one `.env` can serve every binary. Each binary
//! reads the sections it needs; every section is a serde struct with `deny_unknown_fields` and
//! `#[serde(default)]`, so a misspelt key fails at start with the key's name, and anything not
//! given keeps its documented default. A top-level name that is no section of any binary is
//! rejected too. Secrets are [`SecretString`]s: they print as `[REDACTED]`.
//!
//! Environment variables use double underscores between levels:
//! `RESI__POSTGRES__URL=postgres://…` sets `postgres.url`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};
use resi_events::TopicKind;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "RESI__";

/// Every top-level configuration section of every RESI binary.
pub const SECTIONS: [&str; 12] = [
    "postgres",
    "kafka",
    "s3",
    "sqs",
    "telemetry",
    "bridge",
    "parser",
    "projector",
    "api",
    "coordinator",
    "gateway",
    "open_data",
];

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is unknown, or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A top-level name that no binary knows.
    #[error("invalid configuration: unknown section `{0}`, expected one of {SECTIONS:?}")]
    UnknownSection(String),
}

/// Loads `T` from its defaults, then `file` if given, then the environment.
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> Result<T, ConfigError> {
    load_from_env_iter(file, std::env::vars())
}

/// Like [`load`], reading variables from `vars` instead of the process environment (for tests).
pub fn load_from_env_iter<T: DeserializeOwned>(
    file: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    // figment's own Env provider can only read the process environment; this takes any source
    let mut overrides: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(key, value)| {
            let path = key
                .strip_prefix(ENV_PREFIX)?
                .to_ascii_lowercase()
                .replace("__", ".");
            Some((path, value))
        })
        .collect();
    overrides.sort();
    for (path, value) in overrides {
        figment = figment.merge((path.as_str(), parse_env_value(&value)));
    }
    let tree = figment
        .extract::<figment::value::Dict>()
        .map_err(|error| ConfigError::Invalid(Box::new(error)))?;
    if let Some(unknown) = tree.keys().find(|key| !SECTIONS.contains(&key.as_str())) {
        return Err(ConfigError::UnknownSection(unknown.clone()));
    }
    figment
        .extract()
        .map_err(|error| ConfigError::Invalid(Box::new(error)))
}

/// Environment values are typed the way figment types them: booleans and numbers are parsed,
/// everything else stays text.
fn parse_env_value(raw: &str) -> figment::value::Value {
    raw.parse::<figment::value::Value>()
        .unwrap_or_else(|_| figment::value::Value::from(raw.to_owned()))
}

/// Postgres connection settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connection URL, e.g. `postgres://resi:secret@db:5432/resi`. Secret: never logged.
    pub url: SecretString,
    /// Maximum connections in the pool.
    pub pool_size: usize,
    /// Seconds to wait for a connection before failing.
    pub connect_timeout_secs: u64,
    /// Statement timeout in milliseconds applied to every connection (0 disables).
    pub statement_timeout_ms: u64,
    /// Whether the server may JIT-compile this service's statements (off by default). The
    /// projections' batch statements and the API's aggregates cost enough for Postgres to
    /// compile them to machine code each time they run, which took longer than running them:
    /// with it on, a listing rebuild took a quarter longer (see BENCHMARKS.md).
    pub jit: bool,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/resi"),
            pool_size: 16,
            connect_timeout_secs: 5,
            statement_timeout_ms: 30_000,
            jit: false,
        }
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PostgresConfig")
            .field("url", &"[REDACTED]")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("jit", &self.jit)
            .finish()
    }
}

/// Partition counts used when topics are created.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicPartitions {
    /// Partitions of the uploads topic (keyed by miner).
    pub uploads: i32,
    /// Partitions of the attestations topic (keyed by listing).
    pub attestations: i32,
    /// Partitions of the dead-letter topic.
    pub dead_letters: i32,
    /// Partitions of the network topic (keyed by hotkey).
    pub network: i32,
}

impl Default for TopicPartitions {
    fn default() -> Self {
        Self {
            uploads: TopicKind::Uploads.default_partitions(),
            attestations: TopicKind::Attestations.default_partitions(),
            dead_letters: TopicKind::DeadLetters.default_partitions(),
            network: TopicKind::Network.default_partitions(),
        }
    }
}

impl TopicPartitions {
    /// The count for one topic.
    #[must_use]
    pub const fn of(&self, kind: TopicKind) -> i32 {
        match kind {
            TopicKind::Uploads => self.uploads,
            TopicKind::Attestations => self.attestations,
            TopicKind::DeadLetters => self.dead_letters,
            TopicKind::Epochs => TopicKind::Epochs.default_partitions(),
            TopicKind::Network => self.network,
        }
    }
}

/// Producer throughput settings. The defaults favour throughput with bounded latency: batches
/// of up to 1 MiB fill for at most 20 ms, compressed with lz4, and idempotence keeps retries from
/// duplicating or reordering messages within a partition.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerTuning {
    /// `linger.ms`: how long a batch may wait to fill.
    pub linger_ms: u32,
    /// `batch.size` in bytes.
    pub batch_bytes: u32,
    /// `compression.type`: none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    /// `enable.idempotence`.
    pub idempotence: bool,
    /// `message.timeout.ms`: how long delivery is retried before the send fails.
    pub delivery_timeout_ms: u32,
}

impl Default for ProducerTuning {
    fn default() -> Self {
        Self {
            linger_ms: 20,
            batch_bytes: 1 << 20,
            compression: "lz4".to_owned(),
            idempotence: true,
            delivery_timeout_ms: 120_000,
        }
    }
}

/// Kafka-protocol broker settings (Redpanda in production, Tansu in tests).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// Prefix of every topic name (empty in production; unique per test).
    pub topic_prefix: String,
    /// Partition counts for topic creation.
    pub partitions: TopicPartitions,
    /// Replication factor for topic creation (3 on a production cluster).
    pub replication_factor: i32,
    /// Producer batching, compression and idempotence.
    pub producer: ProducerTuning,
    /// Extra librdkafka properties, e.g. `security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `sasl.password`. Values are never logged. In the environment write
    /// underscores for the dots (`RESI__KAFKA__PROPERTIES__SASL_PASSWORD`): librdkafka property
    /// names have no underscores, so they are turned back into dots.
    pub properties: BTreeMap<String, SecretString>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            topic_prefix: String::new(),
            partitions: TopicPartitions::default(),
            replication_factor: 1,
            producer: ProducerTuning::default(),
            properties: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic_prefix", &self.topic_prefix)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("producer", &self.producer)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// S3 (or S3-compatible) object store settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible stores (moto, MinIO); unset for AWS.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Bucket miners upload to.
    pub bucket: String,
    /// Key prefix of uploads; keys outside it are ignored.
    pub prefix: String,
    /// Path-style addressing (needed by most S3-compatible stores).
    pub force_path_style: bool,
    /// Static access key id; unset to use the default AWS credential chain (IRSA, profiles).
    pub access_key_id: Option<String>,
    /// Static secret access key. Secret: never logged.
    pub secret_access_key: Option<SecretString>,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".to_owned(),
            bucket: "resi-miner-data".to_owned(),
            prefix: "data/".to_owned(),
            force_path_style: false,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Logs, traces and metrics. The log filter comes from `RUST_LOG` (default `info`); traces are
/// exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Where to serve Prometheus `GET /metrics`, e.g. `0.0.0.0:9464`; unset serves nothing.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Pretty,
            metrics_listen: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use secrecy::ExposeSecret as _;

    use super::*;

    /// Like a binary's configuration: the sections it needs, others ignored.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Sample {
        postgres: PostgresConfig,
        kafka: KafkaConfig,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(
            file,
            "[postgres]\npool_size = 4\nurl = \"postgres://file\"\n[kafka]\nbrokers = \"file:9092\""
        )
        .expect("write");
        let loaded: Sample = load_from_env_iter(
            Some(file.path()),
            env(&[
                ("RESI__KAFKA__BROKERS", "env:9092"),
                ("OTHER", "ignored"),
                ("RESI__KAFKA__PARTITIONS__UPLOADS", "9"),
            ]),
        )
        .expect("load");
        assert_eq!(loaded.postgres.pool_size, 4, "file overrides default");
        assert_eq!(loaded.postgres.url.expose_secret(), "postgres://file");
        assert_eq!(loaded.postgres.connect_timeout_secs, 5, "default kept");
        assert_eq!(
            loaded.kafka.brokers, "env:9092",
            "environment overrides file"
        );
        assert_eq!(loaded.kafka.partitions.uploads, 9);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let error = load_from_env_iter::<Sample>(None, env(&[("RESI__POSTGRES__POOL_SIZ", "3")]))
            .expect_err("typo must fail");
        assert!(error.to_string().contains("pool_siz"), "{error}");
        let error = load_from_env_iter::<Sample>(None, env(&[("RESI__NOPE__X", "3")]))
            .expect_err("unknown section");
        assert!(
            error.to_string().contains("unknown section `nope`"),
            "{error}"
        );
    }

    #[test]
    fn sections_of_other_binaries_are_left_to_them() {
        let loaded: Sample =
            load_from_env_iter(None, env(&[("RESI__API__LISTEN", "0.0.0.0:8080")])).expect("load");
        assert_eq!(loaded.postgres.pool_size, 16);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let loaded: Sample = load_from_env_iter(
            None,
            env(&[
                ("RESI__POSTGRES__URL", "postgres://u:hunter2@db/resi"),
                ("RESI__KAFKA__PROPERTIES__SASL_PASSWORD", "hunter3"),
            ]),
        )
        .expect("load");
        let printed = format!("{loaded:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("hunter3"),
            "{printed}"
        );
    }
}
