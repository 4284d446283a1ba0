//! Calls from the core into the Java `PulsarBridge`, and the registry that pairs each call with
//! the native callback that completes it.
//!
//! A call registers a one-shot channel under a fresh id, invokes the Java method (which returns at
//! once) and hands back a future; Java later calls one of `NativeCore.complete*`/`fail` with the id
//! (see `callbacks.rs`), which sends the reply. Every JNI call runs inside a local frame, so
//! threads that stay attached (tokio workers) do not accumulate local references.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use jni::objects::{GlobalRef, JObject, JValue};
use jni::{JNIEnv, JavaVM};
use tokio::sync::oneshot;

/// Failure kinds, as `NativeCore` numbers them.
pub mod kind {
    /// The broker failed to store or read.
    pub const STORAGE: i32 = 0;
    /// Another broker owns the topic, or it is fenced, closed or terminated.
    pub const NOT_OWNER: i32 = 1;
    /// No such topic.
    pub const UNKNOWN_TOPIC: i32 = 2;
    /// The topic exists.
    pub const TOPIC_EXISTS: i32 = 3;
    /// The broker refused the request as invalid.
    pub const INVALID: i32 = 4;
}

/// Which field of a stored entry a position search compares.
pub mod field {
    /// The offset of the entry's last record.
    pub const LAST_OFFSET: i32 = 0;
    /// The entry's max timestamp.
    pub const MAX_TIMESTAMP: i32 = 1;
}

/// One entry read from a managed ledger, with its Pulsar headers.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Ledger id.
    pub ledger_id: u64,
    /// Entry id.
    pub entry_id: u64,
    /// The stored bytes.
    pub data: Bytes,
}

/// A topic as the broker lists it.
#[derive(Debug, Clone)]
pub struct ListedTopic {
    /// Full Pulsar name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Kafka topic configs, kept as the topic's properties.
    pub configs: std::collections::BTreeMap<String, String>,
}

/// What Java answers.
#[derive(Debug)]
pub enum Reply {
    /// The call succeeded with nothing to report.
    Done,
    /// The namespace's topics.
    Topics(Vec<ListedTopic>),
    /// An opened partition: the interceptor index and the heads of its first and last entries.
    Opened {
        /// Offset of the last record stored, -1 if none.
        last_index: i64,
        /// First bytes of the first entry.
        first: Option<Vec<u8>>,
        /// First bytes of the last entry.
        last: Option<Vec<u8>>,
    },
    /// An entry was stored.
    Appended {
        /// Ledger id.
        ledger_id: u64,
        /// Entry id.
        entry_id: u64,
        /// First bytes of the stored entry, broker entry metadata included.
        head: Vec<u8>,
    },
    /// Entries read, and the cursor's next read position.
    Read(Vec<RawEntry>, Option<(u64, u64)>),
    /// A position.
    Position(u64, u64),
    /// Who owns a topic: this broker, or the broker at `url`.
    Owner {
        /// Whether the owner is this broker.
        local: bool,
        /// The owner's address as the lookup returned it (`pulsar://host:port`).
        url: String,
    },
    /// The role an authentication established.
    Principal(String),
    /// The call failed.
    Failed(i32, String),
}

type Registry = Mutex<HashMap<i64, oneshot::Sender<Reply>>>;

fn registry() -> &'static Registry {
    static CALLS: OnceLock<Registry> = OnceLock::new();
    CALLS.get_or_init(Default::default)
}

static NEXT_CALL: AtomicI64 = AtomicI64::new(1);

/// Delivers `reply` to the call `id`; unknown ids (a late reply after shutdown) are dropped.
pub fn complete(id: i64, reply: Reply) {
    let sender = registry().lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    tracing::trace!(call = id, known = sender.is_some(), "broker replied");
    if let Some(sender) = sender {
        let _ = sender.send(reply);
    }
}

/// The Java `PulsarBridge` object and the JVM it lives in.
pub struct Bridge {
    jvm: JavaVM,
    object: GlobalRef,
}

impl Bridge {
    /// Wraps the bridge object the shim passed to `start`.
    pub fn new(env: &mut JNIEnv<'_>, object: &JObject<'_>) -> jni::errors::Result<Self> {
        Ok(Bridge { jvm: env.get_java_vm()?, object: env.new_global_ref(object)? })
    }

    /// Runs `invoke` with a JNI env and a fresh call id, returning the call's eventual reply.
    fn call<F>(&self, invoke: F) -> BoxFuture<'static, Reply>
    where
        F: for<'a> FnOnce(&mut JNIEnv<'a>, &JObject<'static>, i64) -> jni::errors::Result<()>,
    {
        let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(call = id, "calling the broker");
        let (tx, rx) = oneshot::channel();
        registry().lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let outcome = self.jvm.attach_current_thread_permanently().and_then(|mut env| {
            let result = env.with_local_frame(16, |env| invoke(env, self.object.as_obj(), id));
            if env.exception_check().unwrap_or(false) {
                let _ = env.exception_describe();
                let _ = env.exception_clear();
            }
            result
        });
        if let Err(e) = outcome {
            registry().lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            let reply = Reply::Failed(kind::STORAGE, format!("call into the broker failed: {e}"));
            return futures::future::ready(reply).boxed();
        }
        async move { rx.await.unwrap_or_else(|_| Reply::Failed(kind::STORAGE, "the broker dropped the call".into())) }
            .boxed()
    }

    /// Lists the partitioned topics of `namespace` (`tenant/namespace`) with their partition
    /// counts and properties.
    pub fn list_topics(&self, namespace: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let ns = env.new_string(namespace)?;
            env.call_method(obj, "listTopics", "(Ljava/lang/String;J)V", &[JValue::Object(&ns), JValue::Long(id)])
                .map(drop)
        })
    }

    /// One partitioned topic with its partition count and properties, as a one-element
    /// [`Reply::Topics`]; an unknown topic fails with [`kind::UNKNOWN_TOPIC`].
    pub fn describe_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            env.call_method(obj, "describeTopic", "(Ljava/lang/String;J)V", &[JValue::Object(&name), JValue::Long(id)])
                .map(drop)
        })
    }

    /// The broker that owns `partition` (a full partition name), as [`Reply::Owner`].
    pub fn lookup(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            env.call_method(obj, "lookup", "(Ljava/lang/String;J)V", &[JValue::Object(&name), JValue::Long(id)])
                .map(drop)
        })
    }

    /// Authenticates `token` with the broker's `token` provider, as [`Reply::Principal`]; a
    /// rejected token fails with [`kind::INVALID`].
    pub fn authenticate(&self, token: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let token = env.new_string(token)?;
            env.call_method(obj, "authenticate", "(Ljava/lang/String;J)V", &[JValue::Object(&token), JValue::Long(id)])
                .map(drop)
        })
    }

    /// Creates a partitioned topic with its Kafka configs as topic properties.
    pub fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &std::collections::BTreeMap<String, String>,
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            let keys = string_array(env, configs.keys())?;
            let values = string_array(env, configs.values())?;
            env.call_method(
                obj,
                "createTopic",
                "(Ljava/lang/String;I[Ljava/lang/String;[Ljava/lang/String;J)V",
                &[
                    JValue::Object(&name),
                    JValue::Int(partitions),
                    JValue::Object(&keys),
                    JValue::Object(&values),
                    JValue::Long(id),
                ],
            )
            .map(drop)
        })
    }

    /// Sets a partitioned topic's Kafka configs (topic properties) to `configs` and removes the
    /// properties named in `removed`.
    pub fn alter_topic_configs(
        &self,
        topic: &str,
        configs: &std::collections::BTreeMap<String, String>,
        removed: &[String],
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            let keys = string_array(env, configs.keys())?;
            let values = string_array(env, configs.values())?;
            let removed = string_array(env, removed.iter())?;
            env.call_method(
                obj,
                "alterTopicConfigs",
                "(Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;J)V",
                &[
                    JValue::Object(&name),
                    JValue::Object(&keys),
                    JValue::Object(&values),
                    JValue::Object(&removed),
                    JValue::Long(id),
                ],
            )
            .map(drop)
        })
    }

    /// Sets one property of a partitioned topic.
    pub fn set_topic_property(&self, topic: &str, key: &str, value: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let (topic, key, value) = (env.new_string(topic)?, env.new_string(key)?, env.new_string(value)?);
            env.call_method(
                obj,
                "setTopicProperty",
                "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)V",
                &[JValue::Object(&topic), JValue::Object(&key), JValue::Object(&value), JValue::Long(id)],
            )
            .map(drop)
        })
    }

    /// Grows a partitioned topic to `partitions`.
    pub fn update_partitions(&self, topic: &str, partitions: i32) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            env.call_method(
                obj,
                "updatePartitions",
                "(Ljava/lang/String;IJ)V",
                &[JValue::Object(&name), JValue::Int(partitions), JValue::Long(id)],
            )
            .map(drop)
        })
    }

    /// Deletes a partitioned topic and its partitions.
    pub fn delete_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            env.call_method(obj, "deleteTopic", "(Ljava/lang/String;J)V", &[JValue::Object(&name), JValue::Long(id)])
                .map(drop)
        })
    }

    /// Loads a partition on this broker.
    pub fn open_partition(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            env.call_method(obj, "openPartition", "(Ljava/lang/String;J)V", &[JValue::Object(&name), JValue::Long(id)])
                .map(drop)
        })
    }

    /// Publishes one frame; Java copies `frame` before the JNI call returns.
    pub fn append(&self, partition: &str, frame: &[u8], records: i32) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            // SAFETY: the buffer aliases `frame`, which outlives this call; Java only reads it, and
            // copies it into its own buffer before `append` returns.
            let buffer = unsafe { env.new_direct_byte_buffer(frame.as_ptr().cast_mut(), frame.len())? };
            env.call_method(
                obj,
                "append",
                "(Ljava/lang/String;Ljava/nio/ByteBuffer;IJ)V",
                &[JValue::Object(&name), JValue::Object(&buffer), JValue::Int(records), JValue::Long(id)],
            )
            .map(drop)
        })
    }

    /// Reads entries from `(ledger_id, entry_id)` on.
    pub fn read(
        &self,
        partition: &str,
        ledger_id: u64,
        entry_id: u64,
        max_entries: i32,
        max_bytes: i64,
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            env.call_method(
                obj,
                "read",
                "(Ljava/lang/String;JJIJJ)V",
                &[
                    JValue::Object(&name),
                    JValue::Long(ledger_id as i64),
                    JValue::Long(entry_id as i64),
                    JValue::Int(max_entries),
                    JValue::Long(max_bytes),
                    JValue::Long(id),
                ],
            )
            .map(drop)
        })
    }

    /// The position of the first entry whose `field` is at least `value`.
    pub fn find_position(&self, partition: &str, field: i32, value: i64) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            env.call_method(
                obj,
                "findPosition",
                "(Ljava/lang/String;IJJ)V",
                &[JValue::Object(&name), JValue::Int(field), JValue::Long(value), JValue::Long(id)],
            )
            .map(drop)
        })
    }
}

/// A Java `String[]` of `items`.
fn string_array<'local, 'a>(
    env: &mut JNIEnv<'local>,
    items: impl ExactSizeIterator<Item = &'a String>,
) -> jni::errors::Result<jni::objects::JObjectArray<'local>> {
    let array = env.new_object_array(items.len() as i32, "java/lang/String", JObject::null())?;
    for (i, item) in items.enumerate() {
        let item = env.new_string(item)?;
        env.set_object_array_element(&array, i as i32, &item)?;
        env.delete_local_ref(item)?;
    }
    Ok(array)
}
