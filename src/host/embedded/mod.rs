//! The embedded host: Kafka topics stored in local segment files, for `kop serve`.
//!
//! Layout under the data directory:
//!
//! ```text
//! topics/<topic>/topic.json            name, id, partition count, configs (atomically replaced)
//! topics/<topic>/<partition>/*.log     segments (ledgers) of one partition
//! topics/<topic>/<partition>/*.index   persisted sparse index of a sealed segment
//! staging/, trash/                     topics being created or deleted
//! ```
//!
//! A topic appears by renaming a complete staging directory into `topics/`, and disappears by
//! renaming it into `trash/`, so a crash never leaves half a topic behind.

pub mod config;
pub mod index_file;
pub mod segment;
pub mod segment_log;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::host::{HostError, HostResult, Log, OpenTopic, TopicMeta, TopicSpec, TopicStore};
use crate::topic_config::TopicConfig;
use config::{FlushPolicy, LogConfig};
use segment_log::SegmentLog;

/// Writes `data` to `path` so that readers see either the old file or the new one, never a mix,
/// and the new one survives a crash once this returns.
pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Runs `work` on a blocking thread when there is a runtime (tests without one run it inline).
pub(crate) fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> HostResult<T> + Send + 'static,
) -> BoxFuture<'static, HostResult<T>> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let task = runtime.spawn_blocking(work);
            async move { task.await.map_err(|e| HostError::Storage(std::io::Error::other(e)))? }.boxed()
        }
        Err(_) => future::ready(work()).boxed(),
    }
}

#[derive(Serialize, Deserialize)]
struct TopicFile {
    name: String,
    id: Uuid,
    partitions: u32,
    configs: BTreeMap<String, String>,
}

/// The embedded host: owns the data directory and every open log.
pub struct EmbeddedHost {
    root: PathBuf,
    broker: Config,
    logs: Mutex<HashMap<String, Vec<Arc<SegmentLog>>>>,
    this: Weak<EmbeddedHost>,
}

impl EmbeddedHost {
    /// Prepares the data directory (creating it if needed) and clears leftovers of interrupted
    /// creates and deletes.
    pub fn new(broker: &Config) -> HostResult<Arc<Self>> {
        let root = broker.data_dir.clone();
        std::fs::create_dir_all(root.join("topics"))?;
        for leftover in ["staging", "trash"] {
            let dir = root.join(leftover);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::create_dir_all(&dir)?;
        }
        Ok(Arc::new_cyclic(|this| EmbeddedHost {
            root,
            broker: broker.clone(),
            logs: Mutex::new(HashMap::new()),
            this: this.clone(),
        }))
    }

    fn topic_dir(&self, name: &str) -> PathBuf {
        self.root.join("topics").join(name)
    }

    fn log_config(&self, configs: &BTreeMap<String, String>) -> HostResult<LogConfig> {
        let topic = TopicConfig::resolve(TopicConfig::defaults(&self.broker), configs)
            .map_err(|e| HostError::InvalidConfig(e.0))?;
        Ok(LogConfig::new(&self.broker, &topic))
    }

    fn open_topic(&self, dir: &Path, file: TopicFile) -> HostResult<OpenTopic> {
        let config = self.log_config(&file.configs)?;
        let mut logs = Vec::with_capacity(file.partitions as usize);
        for p in 0..file.partitions {
            logs.push(SegmentLog::open(&dir.join(p.to_string()), config)?);
        }
        let opened = OpenTopic {
            meta: TopicMeta {
                name: file.name.clone(),
                id: file.id,
                partitions: file.partitions,
                configs: file.configs,
            },
            logs: logs.iter().map(|l| Arc::clone(l) as Arc<dyn Log>).collect(),
        };
        self.lock_logs().insert(file.name, logs);
        Ok(opened)
    }

    fn lock_logs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<SegmentLog>>>> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn all_logs(&self) -> Vec<Arc<SegmentLog>> {
        self.lock_logs().values().flatten().cloned().collect()
    }

    fn load_now(&self) -> HostResult<Vec<OpenTopic>> {
        let mut topics = Vec::new();
        for entry in std::fs::read_dir(self.root.join("topics"))? {
            let dir = entry?.path();
            let meta_path = dir.join("topic.json");
            let raw = match std::fs::read(&meta_path) {
                Ok(raw) => raw,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let file: TopicFile = serde_json::from_slice(&raw)
                .map_err(|e| HostError::Corrupt(format!("{}: {e}", meta_path.display())))?;
            topics.push(self.open_topic(&dir, file)?);
        }
        Ok(topics)
    }

    fn create_now(&self, spec: TopicSpec) -> HostResult<OpenTopic> {
        self.validate(&spec)?;
        let target = self.topic_dir(&spec.name);
        if target.exists() {
            return Err(HostError::TopicExists(spec.name));
        }
        let staging = self.root.join("staging").join(format!("{}-{}", spec.name, Uuid::new_v4().simple()));
        std::fs::create_dir_all(&staging)?;
        let file = TopicFile {
            name: spec.name.clone(),
            id: Uuid::new_v4(),
            partitions: spec.partitions,
            configs: spec.configs,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| HostError::Corrupt(e.to_string()))?;
        atomic_write(&staging.join("topic.json"), &json)?;
        std::fs::rename(&staging, &target)?;
        std::fs::File::open(self.root.join("topics"))?.sync_all()?;
        self.open_topic(&target, file)
    }

    fn add_partitions_now(&self, name: &str, current: u32, count: u32) -> HostResult<Vec<Arc<dyn Log>>> {
        let dir = self.topic_dir(name);
        let meta_path = dir.join("topic.json");
        let raw = std::fs::read(&meta_path).map_err(|_| HostError::UnknownTopic(name.to_string()))?;
        let mut file: TopicFile =
            serde_json::from_slice(&raw).map_err(|e| HostError::Corrupt(format!("{}: {e}", meta_path.display())))?;
        if file.partitions != current {
            return Err(HostError::Invalid(format!("{name} has {} partitions, not {current}", file.partitions)));
        }
        let config = self.log_config(&file.configs)?;
        // New partition directories first: until topic.json names them, a restart ignores them.
        let mut added = Vec::new();
        for p in current..count {
            added.push(SegmentLog::open(&dir.join(p.to_string()), config)?);
        }
        file.partitions = count;
        let json = serde_json::to_vec_pretty(&file).map_err(|e| HostError::Corrupt(e.to_string()))?;
        atomic_write(&meta_path, &json)?;
        self.lock_logs().entry(name.to_string()).or_default().extend(added.iter().cloned());
        Ok(added.into_iter().map(|l| l as Arc<dyn Log>).collect())
    }

    fn alter_configs_now(&self, name: &str, configs: BTreeMap<String, String>) -> HostResult<()> {
        let meta_path = self.topic_dir(name).join("topic.json");
        let raw = std::fs::read(&meta_path).map_err(|_| HostError::UnknownTopic(name.to_string()))?;
        let mut file: TopicFile =
            serde_json::from_slice(&raw).map_err(|e| HostError::Corrupt(format!("{}: {e}", meta_path.display())))?;
        let config = self.log_config(&configs)?;
        file.configs = configs;
        let json = serde_json::to_vec_pretty(&file).map_err(|e| HostError::Corrupt(e.to_string()))?;
        atomic_write(&meta_path, &json)?;
        for log in self.lock_logs().get(name).into_iter().flatten() {
            log.set_config(config);
        }
        Ok(())
    }

    fn delete_now(&self, name: &str) -> HostResult<()> {
        let dir = self.topic_dir(name);
        if !dir.join("topic.json").exists() {
            return Err(HostError::UnknownTopic(name.to_string()));
        }
        if let Some(logs) = self.lock_logs().remove(name) {
            logs.iter().for_each(|l| l.close());
        }
        let trash = self.root.join("trash").join(format!("{name}-{}", Uuid::new_v4().simple()));
        std::fs::rename(&dir, &trash)?;
        std::fs::File::open(self.root.join("topics"))?.sync_all()?;
        // The topic is gone once renamed; freeing its files (possibly gigabytes) happens off the
        // request path. Readers may still hold segments open, which is safe on Unix; whatever a
        // crash leaves in trash/ is removed at the next start.
        let removal = move || {
            if let Err(e) = std::fs::remove_dir_all(&trash) {
                tracing::warn!(dir = %trash.display(), error = %e, "cannot remove a deleted topic's files");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(removal)),
            Err(_) => removal(),
        }
        Ok(())
    }

    /// Runs `work` on this host off the async runtime (file work: renames, fsyncs, directory
    /// scans); see [`off_runtime`].
    fn off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EmbeddedHost) -> HostResult<T> + Send + 'static,
    ) -> BoxFuture<'static, HostResult<T>> {
        match self.this.upgrade() {
            Some(host) => off_runtime(move || work(&host)),
            None => future::ready(Err(HostError::Closed)).boxed(),
        }
    }

    /// Runs the flush and retention tasks until `shutdown` resolves, then flushes once more.
    pub async fn run_maintenance(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let flush_every = match LogConfig::new(&self.broker, &TopicConfig::defaults(&self.broker)).flush {
            FlushPolicy::Interval(d) => Some(d),
            _ => None,
        };
        let mut flush_tick = tokio::time::interval(flush_every.unwrap_or(Duration::from_secs(3600)));
        let mut retention_tick =
            tokio::time::interval(Duration::from_millis(self.broker.log_retention_check_interval_ms));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = flush_tick.tick(), if flush_every.is_some() => self.flush_all().await,
                _ = retention_tick.tick() => self.enforce_retention().await,
            }
        }
        self.flush_all().await;
    }

    /// Forces every log's written data to disk.
    pub async fn flush_all(&self) {
        let logs = self.all_logs();
        let joined = tokio::task::spawn_blocking(move || {
            for log in logs {
                if let Err(e) = log.flush() {
                    tracing::error!(error = %e, "flush failed");
                }
            }
        });
        if let Err(e) = joined.await {
            tracing::error!(error = %e, "flush task failed");
        }
    }

    async fn enforce_retention(&self) {
        let logs = self.all_logs();
        let now = crate::clock::now_ms();
        let joined = tokio::task::spawn_blocking(move || {
            for log in logs {
                match log.enforce_retention(now) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(segments = n, "retention deleted old segments"),
                    Err(e) => tracing::error!(error = %e, "retention failed"),
                }
            }
        });
        if let Err(e) = joined.await {
            tracing::error!(error = %e, "retention task failed");
        }
    }
}

impl TopicStore for EmbeddedHost {
    fn load(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>> {
        self.off_runtime(|host| host.load_now())
    }

    fn validate(&self, spec: &TopicSpec) -> HostResult<()> {
        if spec.partitions == 0 {
            return Err(HostError::Invalid("a topic needs at least one partition".into()));
        }
        self.log_config(&spec.configs).map(|_| ())
    }

    fn create(&self, spec: TopicSpec) -> BoxFuture<'static, HostResult<OpenTopic>> {
        self.off_runtime(move |host| host.create_now(spec))
    }

    fn delete(&self, name: &str) -> BoxFuture<'static, HostResult<()>> {
        let name = name.to_string();
        self.off_runtime(move |host| host.delete_now(&name))
    }

    fn add_partitions(
        &self,
        name: &str,
        current: u32,
        count: u32,
    ) -> BoxFuture<'static, HostResult<Vec<Arc<dyn Log>>>> {
        let name = name.to_string();
        self.off_runtime(move |host| host.add_partitions_now(&name, current, count))
    }

    fn alter_configs(&self, name: &str, configs: BTreeMap<String, String>) -> BoxFuture<'static, HostResult<()>> {
        let name = name.to_string();
        self.off_runtime(move |host| host.alter_configs_now(&name, configs))
    }
}
