//! What every service does before its own work: load the configuration, start telemetry and
//! the metrics endpoint.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::de::DeserializeOwned;

use crate::config::TelemetryConfig;
use crate::telemetry::TelemetryGuard;

/// The configuration file named by `--config FILE` (or `--config=FILE`), else `RESI_CONFIG`, for
/// a binary that takes no other argument (`resi` itself parses its arguments with clap).
pub fn config_file(
    args: impl IntoIterator<Item = String>,
    usage: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let mut args = args.into_iter().skip(1);
    let mut file = std::env::var_os("RESI_CONFIG").map(PathBuf::from);
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            println!("{usage}");
            std::process::exit(0);
        } else if arg == "--config" {
            let Some(path) = args.next() else {
                bail!("--config needs a file\n{usage}");
            };
            file = Some(PathBuf::from(path));
        } else if let Some(path) = arg.strip_prefix("--config=") {
            file = Some(PathBuf::from(path));
        } else {
            bail!("unexpected argument `{arg}`\n{usage}");
        }
    }
    Ok(file)
}

/// Loads the configuration `T` of a service (from `file`, then the environment), then starts
/// its telemetry (kept alive by the returned guard) and, when configured, its metrics endpoint.
pub fn start<T: DeserializeOwned>(
    service_name: &'static str,
    file: Option<&Path>,
    telemetry: impl FnOnce(&T) -> &TelemetryConfig,
) -> anyhow::Result<(T, TelemetryGuard)> {
    let config: T = crate::config::load(file)?;
    let telemetry_config = telemetry(&config);
    let guard = crate::telemetry::init(service_name, telemetry_config)?;
    if let Some(listen) = telemetry_config.metrics_listen {
        crate::metrics::serve(listen)?;
    }
    Ok((config, guard))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn the_config_flag_is_read_in_both_spellings() {
        let spaced = config_file(args(&["bin", "--config", "a.toml"]), "usage").expect("ok");
        assert_eq!(spaced, Some(PathBuf::from("a.toml")));
        let joined = config_file(args(&["bin", "--config=b.toml"]), "usage").expect("ok");
        assert_eq!(joined, Some(PathBuf::from("b.toml")));
        assert!(config_file(args(&["bin", "--nope"]), "usage").is_err());
        assert!(config_file(args(&["bin", "--config"]), "usage").is_err());
    }
}
