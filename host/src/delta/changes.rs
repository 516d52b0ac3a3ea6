//! What a range of commits added as *new data*, read from the commits themselves: add actions
//! with `dataChange = true`. Compaction rewrites rows the table already had (its adds say
//! `dataChange = false`), so an incremental reader such as gold must not see them as new.

use deltalake::DeltaTable;
use deltalake::kernel::Action;

use super::DeltaError;

/// Commits `(after, upto]` as a reader should consume them.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// The last version of the range that can be read as one step: the range stops before a
    /// commit that removes files (compaction, delete), so every file added before it is still
    /// in the table at `upto`. A removing commit that comes first is a step of its own.
    pub upto: u64,
    /// URIs of the files added with new data in `(after, upto]`.
    pub added: Vec<String>,
}

/// The new data of the commits after `after` up to at most `latest` (see [`Changes`]).
pub async fn data_added(table: &DeltaTable, name: &str, after: u64, latest: u64) -> Result<Changes, DeltaError> {
    let store = table.log_store();
    let mut added = Vec::new();
    let mut upto = after;
    for version in after + 1..=latest {
        let bytes = store.read_commit_entry(version).await.map_err(DeltaError::delta(name))?.ok_or_else(|| {
            DeltaError::Other {
                table: name.to_string(),
                message: format!(
                    "commit {version} is no longer in the log (cleaned up after the time-travel horizon); a reader this far behind must be rebuilt"
                ),
            }
        })?;
        let actions = deltalake::logstore::get_actions(version, &bytes).map_err(DeltaError::delta(name))?;
        let removes = actions.iter().any(|a| matches!(a, Action::Remove(_)));
        if removes && version > after + 1 {
            break;
        }
        for action in actions {
            if let Action::Add(add) = action
                && add.data_change
            {
                let path =
                    deltalake::Path::from_url_path(&add.path).map_err(|e| DeltaError::other(name)(e.to_string()))?;
                added.push(store.to_uri(&path));
            }
        }
        upto = version;
        if removes {
            break;
        }
    }
    Ok(Changes { upto, added })
}
