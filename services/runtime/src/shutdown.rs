//! Graceful shutdown on SIGINT or SIGTERM (what Kubernetes sends before killing a pod).

use tokio::sync::watch;

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only ctrl-c stops the service");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("interrupt received, shutting down"),
        () = terminate => tracing::info!("terminate received, shutting down"),
    }
}

/// A shutdown flag that many tasks can watch. Tests trigger it directly.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// Triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl ShutdownTrigger {
    /// Asks every watcher to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

impl Shutdown {
    /// A new flag and its trigger.
    #[must_use]
    pub fn new() -> (ShutdownTrigger, Self) {
        let (sender, receiver) = watch::channel(false);
        (ShutdownTrigger { sender }, Self { receiver })
    }

    /// Whether shutdown was requested.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Sleeps for `delay` unless shutdown is requested first; whether it was.
    pub async fn sleep(&mut self, delay: std::time::Duration) -> bool {
        tokio::select! {
            () = self.wait() => true,
            () = tokio::time::sleep(delay) => false,
        }
    }

    /// Resolves once shutdown is requested (immediately if it already was).
    pub async fn wait(&mut self) {
        // an error means the trigger was dropped, which also means stop
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }
}

/// A flag triggered by SIGINT/SIGTERM, for binaries.
#[must_use]
pub fn on_signal() -> Shutdown {
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        signal().await;
        trigger.trigger();
    });
    shutdown
}
