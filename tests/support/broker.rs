//! A broker of the test's own: the stack's Tansu build, started on a port and a log of its own,
//! so that a test can restart it (a crash, SIGKILL) without touching the broker the rest of the
//! suite shares.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::{eventually, python, workspace_root};

/// A private Tansu broker.
pub struct PrivateBroker {
    /// `host:port`, for `kafka.brokers`.
    pub brokers: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
    restarts: u32,
}

impl PrivateBroker {
    /// Starts one on a free port with empty storage.
    pub async fn start() -> anyhow::Result<Self> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let mut broker = Self {
            brokers: format!("127.0.0.1:{port}"),
            port,
            dir: tempfile::tempdir()?,
            child: None,
            restarts: 0,
        };
        broker.run().await?;
        Ok(broker)
    }

    fn binary() -> anyhow::Result<PathBuf> {
        std::env::var_os("RESI_TEST_TANSU")
            .map(PathBuf::from)
            .filter(|path| path.exists())
            .context("RESI_TEST_TANSU names no Tansu binary: source .stack/env (scripts/stack up builds it)")
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))?;
        let child = tokio::process::Command::new(Self::binary()?)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(self.dir.path())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("failed to start Tansu")?;
        self.child = Some(child);
        let address = self.brokers.clone();
        eventually(
            Duration::from_secs(60),
            "the private broker to listen",
            || async {
                Ok(tokio::net::TcpStream::connect(&address)
                    .await
                    .ok()
                    .map(|_| ()))
            },
        )
        .await?;
        // the stack's mends of Tansu's storage, as scripts/stack applies them
        let status = tokio::process::Command::new(python())
            .arg(workspace_root().join("scripts/tansu/mend_storage.py"))
            .arg(self.dir.path().join("tansu.db"))
            .status()
            .await?;
        anyhow::ensure!(
            status.success(),
            "mending the private broker's storage failed"
        );
        Ok(())
    }

    /// Kills the broker (SIGKILL, as a crash), keeps it down for `down`, and starts it again on
    /// the same port and log.
    pub async fn restart(&mut self, down: Duration) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        self.restarts += 1;
        tokio::time::sleep(down).await;
        self.run().await
    }

    /// Restarts so far.
    #[must_use]
    pub const fn restarts(&self) -> u32 {
        self.restarts
    }
}
