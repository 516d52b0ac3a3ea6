//! The live event feed behind `GET /api/events`: pipelines, the control plane and a ticker
//! publish [`finlake_api::Event`]s here; every SSE connection subscribes.
//!
//! Publishing never blocks and never fails: with nobody listening an event is dropped, and a
//! subscriber that falls more than [`CAPACITY`] events behind skips ahead (the next
//! once-a-second `pipelines` event makes its counters whole again).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use finlake_api::{AlertEvent, CommitEvent, Event};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind before it skips.
pub const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    /// Tables whose new rows are alerts (a stage output named `alerts`).
    alert_tables: Arc<RwLock<BTreeSet<String>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { tx: broadcast::channel(CAPACITY).0, alert_tables: Arc::default() }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        // An error only means nobody is listening.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// How many feeds are connected (periodic events are only built when someone listens).
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Sets which tables hold alerts (from the config in effect).
    pub fn set_alert_tables(&self, tables: BTreeSet<String>) {
        *self.alert_tables.write().unwrap_or_else(|e| e.into_inner()) = tables;
    }

    /// A pipeline committed `rows` rows to `table` as `version`.
    pub fn committed(&self, pipeline: &str, table: &str, rows: u64, version: u64) {
        let at_ms = chrono::Utc::now().timestamp_millis();
        self.publish(Event::Commit(CommitEvent {
            pipeline: pipeline.into(),
            table: table.into(),
            version,
            rows,
            at_ms,
        }));
        let is_alerts = self.alert_tables.read().unwrap_or_else(|e| e.into_inner()).contains(table);
        if is_alerts && rows > 0 {
            self.publish(Event::Alert(AlertEvent {
                pipeline: pipeline.into(),
                table: table.into(),
                version,
                rows,
                at_ms,
            }));
        }
    }
}

/// The tables of `config` that hold alerts: those a stage output named `alerts` maps to.
pub fn alert_tables(config: &crate::config::Config) -> BTreeSet<String> {
    config
        .pipelines
        .iter()
        .flat_map(|p| &p.stages)
        .flat_map(|s| s.outputs.iter())
        .filter(|(output, _)| output.as_str() == "alerts")
        .map(|(_, table)| table.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_to_alert_tables_are_also_alerts() {
        let bus = EventBus::default();
        bus.set_alert_tables(BTreeSet::from(["fraud_alerts".to_string()]));
        let mut rx = bus.subscribe();
        bus.committed("bank", "silver", 5, 1);
        bus.committed("bank", "fraud_alerts", 0, 2);
        bus.committed("bank", "fraud_alerts", 3, 3);
        let names: Vec<&str> = std::iter::from_fn(|| rx.try_recv().ok()).map(|e| e.name()).collect();
        assert_eq!(names, ["commit", "commit", "commit", "alert"]);
    }
}
