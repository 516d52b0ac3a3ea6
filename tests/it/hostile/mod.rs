//! The hostile-input suite: each test is one finding of the review in issue 12 (a record, a
//! plugin, a query, a web page or a config edit that could take FinLake down, stop a layer,
//! double data or leak a secret), shown to fail on the old code and to pass now. Real parts
//! throughout: the embedded Kafka-protocol broker, real plugins, Delta tables, the HTTP API.

mod api;
mod config;
mod plugins;
mod records;

use std::time::Duration;

use finlake::config::Config;
use finlake::kafka::embedded::EmbeddedBroker;
use finlake::service::Service;

use crate::common::*;

/// A running service over the chaos pipeline (`p`: topic → chaos → `tagged`), its config
/// text edited by `edit` first; the broker lives as long as the returned value.
pub struct Running {
    pub broker: EmbeddedBroker,
    pub brokers: String,
    pub topic: String,
    pub dir: tempfile::TempDir,
    pub service: Service,
    pub api: String,
}

pub async fn start_chaos(stage_config: &str, edit: impl FnOnce(String) -> String) -> Running {
    let topic = unique("hostile");
    let broker = EmbeddedBroker::start(std::slice::from_ref(&topic), 1).unwrap();
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let text = edit(chaos_config(dir.path(), &plugin_dir(), &topic, stage_config));
    let file = dir.path().join("pipelines.toml");
    std::fs::write(&file, &text).unwrap();
    let service = Service::start(Config::load(&file).unwrap(), brokers.clone()).await.unwrap();
    let api = format!("http://{}", service.api_addr.unwrap());
    Running { broker, brokers, topic, dir, service, api }
}

impl Running {
    pub fn lake(&self, table: &str) -> std::path::PathBuf {
        self.dir.path().join("lake").join(table)
    }

    pub async fn rows(&self) -> usize {
        kafka_coordinates(&self.lake("tagged")).await.len()
    }

    pub async fn dead(&self) -> usize {
        dead_letter_coordinates(&self.lake("dead_letters")).await.values().sum()
    }

    pub fn snapshot(&self) -> finlake_api::PipelineSnapshot {
        self.service.registry.get("p").expect("pipeline p").snapshot()
    }

    pub async fn dead_letters(&self) -> Vec<finlake_api::DeadLetter> {
        let url = format!("{}/api/dead-letters?pipeline=p&all=true", self.api);
        get_json(&url).await
    }
}

/// GETs `url` and decodes its JSON body.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{url}: {e}: {}", String::from_utf8_lossy(&body)))
}

/// Waits up to a minute.
pub async fn eventually<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until(Duration::from_secs(60), what, f).await
}
