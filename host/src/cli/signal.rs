//! Stopping cleanly on Ctrl-C or SIGTERM.

use std::time::Duration;

use tokio::sync::watch;

/// A receiver that turns true on Ctrl-C or SIGTERM (for commands that stop cleanly).
pub fn stop_on_signal() -> watch::Receiver<bool> {
    stop_on_signal_or_after(None)
}

/// Like [`stop_on_signal`], and also once `after` has passed.
pub fn stop_on_signal_or_after(after: Option<Duration>) -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let deadline = async {
            match after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = deadline => {}
        }
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// Returns on the first Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
