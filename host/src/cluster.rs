//! The hosts of one deployment, as they see each other through the lake: every few seconds each
//! host writes what it runs and which partitions the consumer group gave it to
//! `<lake>/_finlake/hosts/<host id>.json`, and reads everyone's. Any host's `/api/pipelines`
//! (and the dashboard) then shows the whole group.
//!
//! Why the lake and not the group coordinator: every host already shares the lake, while
//! describing a consumer group is not answered with members' assignments by every broker (the
//! embedded one has no DescribeGroups; Tansu leaves members' ids and assignments empty). Each
//! host reports its own assignment as its rebalance callback recorded it — which partitions
//! it writes — and a record not rewritten for [`GONE_AFTER`] is a host that is gone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deltalake::ObjectStore;
use deltalake::Path as ObjectPath;
use deltalake::logstore::object_store::{ObjectStoreExt as _, PutPayload};
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};

use crate::delta::DeltaError;
use crate::pipeline::Registry;

/// Where the records live, under the lake root (beside the tables; Delta readers ignore it).
pub const HOSTS_DIR: &str = "_finlake/hosts";
/// How often a host rewrites its record.
pub const EVERY: Duration = Duration::from_secs(5);
/// A record older than this is a host that stopped without saying so (killed, cut off).
pub const GONE_AFTER: Duration = Duration::from_secs(20);

/// What one host says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub host: String,
    /// Its API address (`[api] listen`).
    pub api: String,
    /// When it wrote this, ms since the epoch.
    pub at_ms: i64,
    /// Per pipeline it runs: the partitions it owns (`None` before its first assignment).
    pub pipelines: BTreeMap<String, Option<Vec<i32>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Lake(#[from] DeltaError),
    #[error("{HOSTS_DIR}: {0}")]
    Store(#[from] deltalake::ObjectStoreError),
}

/// This host's view of the others.
#[derive(Debug, Default)]
pub struct Cluster {
    /// Every live host's record as last read (this host's included), by host id.
    seen: Mutex<BTreeMap<String, HostRecord>>,
}

impl Cluster {
    /// The live hosts running `pipeline`, with the partitions each owns; `None` before the
    /// first read of the lake.
    pub fn group(&self, pipeline: &str) -> Option<Vec<finlake_api::GroupMember>> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_empty() {
            return None;
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut members: Vec<finlake_api::GroupMember> = seen
            .values()
            .filter_map(|r| {
                let partitions = r.pipelines.get(pipeline)?.clone()?;
                Some(finlake_api::GroupMember {
                    host: r.host.clone(),
                    api: r.api.clone(),
                    partitions,
                    seen_ms_ago: (now - r.at_ms).max(0) as u64,
                })
            })
            .collect();
        members.sort_by(|a, b| a.partitions.first().cmp(&b.partitions.first()).then_with(|| a.host.cmp(&b.host)));
        Some(members)
    }

    /// Writes this host's record and reads everyone's, every [`EVERY`] until `stop`; then
    /// deletes the record (a host that stops cleanly leaves the view at once). Trouble with
    /// the lake is logged and tried again at the next tick.
    pub async fn run(
        self: Arc<Self>,
        root: std::path::PathBuf,
        api: String,
        registry: Registry,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let host = crate::kafka::host_id();
        let mut store = None;
        loop {
            if store.is_none() {
                match crate::delta::objects_at(&root, HOSTS_DIR).await {
                    Ok(s) => store = Some(s),
                    Err(e) => tracing::warn!(error = %e, "cannot reach the lake to announce this host"),
                }
            }
            if let Some(store) = &store {
                let record = HostRecord {
                    host: host.clone(),
                    api: api.clone(),
                    at_ms: chrono::Utc::now().timestamp_millis(),
                    pipelines: registry.assignments(),
                };
                match self.tick(store.as_ref(), &record).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "announcing this host in the lake failed; retrying"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if let Some(store) = store {
            let _ = store.delete(&record_path(&host)).await;
        }
    }

    async fn tick(&self, store: &dyn ObjectStore, mine: &HostRecord) -> Result<(), ClusterError> {
        let body = serde_json::to_vec(mine).expect("a host record serializes");
        store.put(&record_path(&mine.host), PutPayload::from(body)).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let metas: Vec<_> = store.list(None).try_collect().await?;
        let mut seen = BTreeMap::new();
        for meta in metas {
            if !meta.location.as_ref().ends_with(".json") {
                continue;
            }
            let Ok(got) = store.get(&meta.location).await else { continue };
            let Ok(bytes) = got.bytes().await else { continue };
            // Another version's or a damaged record is skipped, not fatal.
            let Ok(record) = serde_json::from_slice::<HostRecord>(&bytes) else {
                tracing::debug!(path = %meta.location, "unreadable host record skipped");
                continue;
            };
            if now - record.at_ms <= GONE_AFTER.as_millis() as i64 {
                seen.insert(record.host.clone(), record);
            }
        }
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = seen;
        Ok(())
    }
}

/// A host's record, named for the host (characters outside `[A-Za-z0-9._-]` become `_`).
fn record_path(host: &str) -> ObjectPath {
    let safe: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    ObjectPath::from(format!("{safe}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hosts_see_each_other_and_forget_the_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::delta::objects_at(dir.path(), HOSTS_DIR).await.unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let record = |host: &str, at_ms: i64, parts: Option<Vec<i32>>| HostRecord {
            host: host.into(),
            api: "127.0.0.1:1".into(),
            at_ms,
            pipelines: BTreeMap::from([("p".to_string(), parts)]),
        };
        let (a, b) = (Cluster::default(), Cluster::default());
        assert_eq!(a.group("p"), None, "nothing read yet");
        a.tick(store.as_ref(), &record("a/1", now, Some(vec![0, 1]))).await.unwrap();
        b.tick(store.as_ref(), &record("b", now, Some(vec![2]))).await.unwrap();
        // A host gone for longer than GONE_AFTER, and one still waiting for its assignment.
        let gone = record("c", now - GONE_AFTER.as_millis() as i64 - 1000, Some(vec![3]));
        store.put(&record_path("c"), PutPayload::from(serde_json::to_vec(&gone).unwrap())).await.unwrap();
        store
            .put(&record_path("d"), PutPayload::from(serde_json::to_vec(&record("d", now, None)).unwrap()))
            .await
            .unwrap();
        store.put(&ObjectPath::from("junk.json"), PutPayload::from(b"{not json".to_vec())).await.unwrap();
        a.tick(store.as_ref(), &record("a/1", now, Some(vec![0, 1]))).await.unwrap();
        let group = a.group("p").unwrap();
        let view: Vec<(&str, Vec<i32>)> = group.iter().map(|m| (m.host.as_str(), m.partitions.clone())).collect();
        assert_eq!(view, vec![("a/1", vec![0, 1]), ("b", vec![2])]);
        assert_eq!(a.group("other"), Some(vec![]), "no host runs it");
        assert!(dir.path().join(HOSTS_DIR).join("a_1.json").exists(), "host ids are made safe as names");
    }
}
