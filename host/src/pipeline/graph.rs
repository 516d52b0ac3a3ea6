//! The stages of a pipeline as a graph, and running one Kafka batch through it.
//!
//! A failing plugin call (trap, timeout, memory, error) is retried on halves of the batch until
//! the records that cause it are isolated; those become dead letters, the rest go on. A stage
//! that fails *every* record of a batch is not a poison record but a broken plugin (or a broken
//! dependency): the graph reports a [`WholeBatchFailure`] instead, and the runner holds the
//! batch rather than dead-lettering all of it.

use std::collections::BTreeMap;

use crate::config::{PipelineConfig, StageConfig};
use crate::plugin::BatchExt;
use crate::plugin::batch_view::select;
use crate::plugin::{Batch, BatchBuilder, LoadedPlugin, PluginError, PluginInstance, check_cost, rows_of};

/// Where a plugin output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Table(String),
    Stage(usize),
}

pub struct Stage {
    pub id: String,
    pub instance: PluginInstance,
    pub targets: BTreeMap<String, Target>,
    fed: bool,
}

impl Stage {
    /// A stage on its own (no routing), for running a plugin outside a pipeline.
    pub fn single(id: &str, instance: PluginInstance) -> Stage {
        Stage { id: id.to_string(), instance, targets: BTreeMap::new(), fed: false }
    }

    /// Runs a batch through this stage's plugin, isolating the records that make a call fail.
    /// Returns (input index, output name, JSON row) per row, and the failures.
    pub fn process_isolated(&mut self, batch: &Batch) -> Result<(Vec<Emitted>, Vec<Failure>), PluginError> {
        let origins: Vec<usize> = (0..batch.len()).collect();
        let (mut rows, mut failures) = (Vec::new(), Vec::new());
        let mut tries = Tries::unlimited();
        call_isolating(self, batch, &origins, &mut rows, &mut failures, &mut tries).map_err(Abort::into_error)?;
        Ok((rows, failures))
    }
}

/// A row for a table, produced from Kafka record `input` of the batch.
#[derive(Debug)]
pub struct TableRow {
    pub table: String,
    pub input: usize,
    pub json: Vec<u8>,
}

/// A Kafka record that a stage could not handle.
#[derive(Debug)]
pub struct Failure {
    pub input: usize,
    pub stage: String,
    pub plugin: String,
    pub plugin_version: String,
    pub kind: String,
    pub reason: String,
    /// What the failing step received: the Kafka record's value for a stage fed from the
    /// topic, the upstream plugin's row for a downstream stage. Replay feeds it back there.
    pub value: Vec<u8>,
}

/// A stage failed every record of a batch it was given (two or more records), or kept failing
/// without a single success while isolating: the plugin is broken, not the records.
#[derive(Debug, Clone)]
pub struct WholeBatchFailure {
    pub stage: String,
    pub plugin: String,
    pub plugin_version: String,
    pub kind: String,
    pub reason: String,
    pub records: usize,
}

#[derive(Debug, Default)]
pub struct GraphOutput {
    pub rows: Vec<TableRow>,
    pub failures: Vec<Failure>,
    /// Per stage that ran: its id, the time its calls took (isolation retries included), how
    /// many records failed in it other than by rejection (trap, timeout, memory), and how many
    /// records it was given.
    pub calls: Vec<(String, std::time::Duration, usize, usize)>,
    /// Set when a stage failed the whole batch; `rows` and `failures` are then incomplete and
    /// must not be written.
    pub whole_batch: Option<WholeBatchFailure>,
    /// When [`Graph::sampling`] is on: per stage that ran, up to [`SAMPLE_RECORDS`] of the
    /// inputs it handled without failing (Kafka records for entry stages, upstream rows for
    /// the others), for trying a new version of its plugin before a swap.
    pub samples: Vec<(String, Batch)>,
}

/// Records kept per stage sample.
pub const SAMPLE_RECORDS: usize = 64;

pub struct Graph {
    pub stages: Vec<Stage>,
    order: Vec<usize>,
    /// Keep samples of every stage's input in the next runs' outputs.
    pub sampling: bool,
}

impl Graph {
    /// Builds the graph from validated config and one instance per stage.
    pub fn new(config: &PipelineConfig, mut instances: Vec<PluginInstance>) -> Graph {
        let ids: BTreeMap<&str, usize> = config.stages.iter().enumerate().map(|(i, s)| (s.id(), i)).collect();
        let mut fed = vec![false; config.stages.len()];
        let mut stages = Vec::new();
        for (s, instance) in config.stages.iter().zip(instances.drain(..)) {
            let targets = targets_of(s, &ids);
            for t in targets.values() {
                if let Target::Stage(i) = t {
                    fed[*i] = true;
                }
            }
            stages.push(Stage { id: s.id().to_string(), instance, targets, fed: false });
        }
        for (stage, fed) in stages.iter_mut().zip(fed) {
            stage.fed = fed;
        }
        let order = topological(&stages);
        Graph { stages, order, sampling: false }
    }

    pub fn plugins(&self) -> Vec<(&str, &LoadedPlugin)> {
        self.stages.iter().map(|s| (s.id.as_str(), s.instance.plugin())).collect()
    }

    /// Runs a Kafka batch through every stage. Only a broken plugin (one that cannot even be
    /// re-instantiated) is an error; record-level failures are returned as [`Failure`]s.
    pub fn run(&mut self, batch: &Batch) -> Result<GraphOutput, PluginError> {
        self.run_from(None, batch)
    }

    /// Ids of the stages fed straight from the topic.
    pub fn entry_stages(&self) -> Vec<String> {
        self.stages.iter().filter(|s| !s.fed).map(|s| s.id.clone()).collect()
    }

    /// Index of the stage with this id.
    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    /// Like [`Graph::run`], but with `start = Some(i)` the batch is the input of stage `i` only
    /// (and what it emits flows on as usual): used to replay dead letters from where they failed.
    pub fn run_from(&mut self, start: Option<usize>, batch: &Batch) -> Result<GraphOutput, PluginError> {
        let n = batch.len();
        let mut output = GraphOutput::default();
        // Input of each fed stage: (batch, origin index in the Kafka batch per record).
        let mut pending: Vec<Option<(BatchBuilder, Vec<usize>)>> = (0..self.stages.len()).map(|_| None).collect();
        let identity: Vec<usize> = (0..n).collect();
        for &s in &self.order.clone() {
            let fed_input;
            let seeded = start == Some(s);
            let (input, origins): (&Batch, &[usize]) = if seeded || (start.is_none() && !self.stages[s].fed) {
                (batch, &identity)
            } else {
                match pending[s].take() {
                    Some((b, o)) if !b.is_empty() => {
                        fed_input = (b.finish(), o);
                        (&fed_input.0, &fed_input.1)
                    }
                    _ => continue,
                }
            };
            let mut emitted = Vec::new();
            let (started, failed_before) = (std::time::Instant::now(), output.failures.len());
            let mut tries = Tries::for_batch(input.len());
            let outcome =
                call_isolating(&mut self.stages[s], input, origins, &mut emitted, &mut output.failures, &mut tries);
            let errors = output.failures[failed_before..].iter().filter(|f| f.kind != "rejected").count();
            output.calls.push((self.stages[s].id.clone(), started.elapsed(), errors, input.len()));
            let every_record_failed = input.len() >= 2 && errors == input.len();
            match outcome {
                Err(Abort::Fatal(e)) => return Err(e),
                Err(Abort::GaveUp(e)) => {
                    output.whole_batch = Some(self.whole_batch(s, e.kind(), e.to_string(), input.len()));
                    return Ok(output);
                }
                Ok(()) if every_record_failed => {
                    let last = &output.failures[output.failures.len() - 1];
                    output.whole_batch =
                        Some(self.whole_batch(s, &last.kind.clone(), last.reason.clone(), input.len()));
                    return Ok(output);
                }
                Ok(()) => {}
            }
            if self.sampling {
                let failed: std::collections::HashSet<usize> =
                    output.failures[failed_before..].iter().filter(|f| f.kind != "rejected").map(|f| f.input).collect();
                let good: Vec<usize> =
                    (0..input.len()).filter(|&i| !failed.contains(&origins[i])).take(SAMPLE_RECORDS).collect();
                if !good.is_empty() {
                    output.samples.push((self.stages[s].id.clone(), select(input, &good)));
                }
            }
            for (origin, out_name, json) in emitted {
                match self.stages[s].targets.get(&out_name) {
                    Some(Target::Table(t)) => output.rows.push(TableRow { table: t.clone(), input: origin, json }),
                    Some(Target::Stage(next)) => {
                        let (b, o) =
                            pending[*next].get_or_insert_with(|| (BatchBuilder::new(&batch.topic, 64), Vec::new()));
                        b.push(
                            batch.key(origin),
                            &json,
                            [],
                            batch.partition(origin),
                            batch.offset(origin),
                            batch.timestamp(origin),
                        );
                        o.push(origin);
                    }
                    None => {
                        let stage = &self.stages[s];
                        output.failures.push(Failure {
                            input: origin,
                            stage: stage.id.clone(),
                            plugin: stage.instance.plugin().name.clone(),
                            plugin_version: stage.instance.plugin().version.clone(),
                            kind: "unrouted".into(),
                            reason: format!(
                                "plugin emitted to output {out_name:?}, which the stage's outputs do not map"
                            ),
                            value: json,
                        });
                    }
                }
            }
        }
        Ok(output)
    }

    /// The dead letters of a batch a stage failed whole, for `on_broken = "dead_letter"`: each
    /// record once per stage fed from the topic (where a replay starts it again), with the
    /// broken stage and its error in the reason. Nothing of the batch reached a table.
    pub fn broken_batch_letters(&self, batch: &Batch, failure: &WholeBatchFailure) -> GraphOutput {
        let mut output = GraphOutput::default();
        for stage in self.stages.iter().filter(|s| !s.fed) {
            let plugin = stage.instance.plugin();
            for i in 0..batch.len() {
                output.failures.push(Failure {
                    input: i,
                    stage: stage.id.clone(),
                    plugin: plugin.name.clone(),
                    plugin_version: plugin.version.clone(),
                    kind: "broken".into(),
                    reason: format!(
                        "stage {} (plugin {} {}) failed every record of the batch ({}: {}); dead-lettered because on_broken = \"dead_letter\"",
                        failure.stage, failure.plugin, failure.plugin_version, failure.kind, failure.reason
                    ),
                    value: batch.value(i).to_vec(),
                });
            }
        }
        output
    }

    fn whole_batch(&self, s: usize, kind: &str, reason: String, records: usize) -> WholeBatchFailure {
        let stage = &self.stages[s];
        WholeBatchFailure {
            stage: stage.id.clone(),
            plugin: stage.instance.plugin().name.clone(),
            plugin_version: stage.instance.plugin().version.clone(),
            kind: kind.to_string(),
            reason,
            records,
        }
    }
}

fn targets_of(stage: &StageConfig, ids: &BTreeMap<&str, usize>) -> BTreeMap<String, Target> {
    stage
        .outputs
        .iter()
        .map(|(out, target)| {
            let t = match ids.get(target.as_str()) {
                Some(i) => Target::Stage(*i),
                None => Target::Table(target.clone()),
            };
            (out.clone(), t)
        })
        .collect()
}

fn topological(stages: &[Stage]) -> Vec<usize> {
    let mut indegree = vec![0usize; stages.len()];
    for s in stages {
        for t in s.targets.values() {
            if let Target::Stage(i) = t {
                indegree[*i] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..stages.len()).filter(|i| indegree[*i] == 0).rev().collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop() {
        order.push(i);
        for t in stages[i].targets.values() {
            if let Target::Stage(j) = t {
                indegree[*j] -= 1;
                if indegree[*j] == 0 {
                    ready.push(*j);
                }
            }
        }
    }
    order
}

/// A row a plugin emitted: (input index, output name, JSON).
pub type Emitted = (usize, String, Vec<u8>);

/// Why isolating stopped early.
enum Abort {
    /// The plugin cannot even be instantiated: the pipeline cannot go on.
    Fatal(PluginError),
    /// Many calls in a row failed and none succeeded: every record fails, isolating them one by
    /// one would only take long (a looping plugin costs its time limit per call).
    GaveUp(PluginError),
}

impl Abort {
    fn into_error(self) -> PluginError {
        match self {
            Abort::Fatal(e) | Abort::GaveUp(e) => e,
        }
    }
}

/// Counts plugin calls while isolating a batch.
struct Tries {
    failed: usize,
    succeeded: usize,
    /// Failed calls without any success after which isolation gives up.
    give_up_after: usize,
}

impl Tries {
    /// Isolating one poison record among n takes about log2(n) + 2 failing calls before the
    /// first success; twice that, plus a margin, without a success means the plugin fails
    /// everything.
    fn for_batch(n: usize) -> Tries {
        let log2 = usize::BITS as usize - n.max(1).leading_zeros() as usize;
        Tries { failed: 0, succeeded: 0, give_up_after: 2 * log2 + 4 }
    }

    fn unlimited() -> Tries {
        Tries { failed: 0, succeeded: 0, give_up_after: usize::MAX }
    }
}

fn call_isolating(
    stage: &mut Stage,
    batch: &Batch,
    origins: &[usize],
    emitted: &mut Vec<Emitted>,
    failures: &mut Vec<Failure>,
    tries: &mut Tries,
) -> Result<(), Abort> {
    let n = batch.len();
    let outcome = stage.instance.process(batch).and_then(|result| {
        let bad = |message| PluginError::BadResult { plugin: stage.instance.plugin().name.clone(), message };
        // Bounded before anything is copied out of the result (a stage on its own, as in
        // `finlake plugin test`, declares no outputs: any name goes).
        let targets = &stage.targets;
        let declared = |name: &str| targets.contains_key(name);
        let declared: Option<&dyn Fn(&str) -> bool> = (!targets.is_empty()).then_some(&declared);
        check_cost(&result, batch, declared).map_err(bad)?;
        let rows = rows_of(&result, n).map_err(bad)?;
        let rows: Vec<Emitted> =
            rows.into_iter().map(|r| (origins[r.input], r.output.to_string(), r.json.to_vec())).collect();
        Ok((rows, result.rejections))
    });
    let fail = |stage: &Stage, i: usize, kind: &str, reason: String| Failure {
        input: origins[i],
        stage: stage.id.clone(),
        plugin: stage.instance.plugin().name.clone(),
        plugin_version: stage.instance.plugin().version.clone(),
        kind: kind.to_string(),
        reason,
        value: batch.value(i).to_vec(),
    };
    match outcome {
        Ok((rows, rejections)) => {
            tries.succeeded += 1;
            emitted.extend(rows);
            for r in rejections {
                failures.push(fail(stage, r.input as usize, "rejected", r.reason));
            }
            Ok(())
        }
        Err(e) if e.is_per_call() => {
            tries.failed += 1;
            if tries.succeeded == 0 && tries.failed > tries.give_up_after {
                return Err(Abort::GaveUp(e));
            }
            if n == 1 {
                tracing::warn!(stage = %stage.id, error = %e, offset = batch.offset(0), partition = batch.partition(0), "record isolated as poison");
                failures.push(fail(stage, 0, e.kind(), e.to_string()));
                return Ok(());
            }
            tracing::warn!(stage = %stage.id, error = %e, records = n, "batch failed in plugin; splitting to isolate the cause");
            let mid = n / 2;
            for range in [0..mid, mid..n] {
                let indices: Vec<usize> = range.collect();
                let part = select(batch, &indices);
                let part_origins: Vec<usize> = indices.iter().map(|i| origins[*i]).collect();
                call_isolating(stage, &part, &part_origins, emitted, failures, tries)?;
            }
            Ok(())
        }
        Err(e) => Err(Abort::Fatal(e)),
    }
}
