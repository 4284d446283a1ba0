//! Calls from the core into the Java `PulsarBridge`, and the registry that pairs each call with
//! the native callback that completes it.
//!
//! A call registers a one-shot channel under a fresh id, invokes the Java method (which returns at
//! once) and hands back a future; Java later calls one of `NativeCore.complete*`/`fail` with the id
//! (see `callbacks.rs`), which sends the reply. Every JNI call runs inside a local frame, so
//! threads that stay attached (tokio workers) do not accumulate local references.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};

use futures::future::{BoxFuture, FutureExt};
use jni::objects::{GlobalRef, JMethodID, JObject, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::{JNIEnv, JavaVM};
use tokio::sync::oneshot;

use crate::host::pulsar::calls::{BrokerCalls, Failure, Field, Reply};

/// How long a call into the broker may take before the core gives up on it: no broker callback
/// that never comes can hold a client request (or its memory) for ever.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

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

/// The `PulsarBridge` methods the core calls, each resolved once when the handler starts, so a
/// signature that does not match the shim fails `start` with its name instead of a later call.
struct Methods {
    list_topics: JMethodID,
    describe_topic: JMethodID,
    ensure_namespace: JMethodID,
    lookup: JMethodID,
    authenticate: JMethodID,
    create_topic: JMethodID,
    alter_topic_configs: JMethodID,
    set_topic_property: JMethodID,
    update_partitions: JMethodID,
    delete_topic: JMethodID,
    open_partition: JMethodID,
    save_snapshot: JMethodID,
    append: JMethodID,
    read: JMethodID,
    find_position: JMethodID,
}

/// A bridge that could not be set up: the shim and the core do not match.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A method the core calls is missing from the shim, or has another signature.
    #[error("the shim has no method {name}{signature}: the NAR's classes and native library do not match")]
    Method {
        /// Method name.
        name: &'static str,
        /// JNI signature.
        signature: &'static str,
    },
    /// The shim numbers a failure kind differently.
    #[error("NativeCore.{name} is {found} in the shim but {expected} in the core")]
    Kind {
        /// Constant name.
        name: &'static str,
        /// The shim's value.
        found: i32,
        /// The core's value.
        expected: i32,
    },
    /// Any other JNI failure.
    #[error(transparent)]
    Jni(#[from] jni::errors::Error),
}

/// The Java `PulsarBridge` object, the JVM it lives in, and its methods.
pub struct Bridge {
    jvm: JavaVM,
    object: GlobalRef,
    methods: Methods,
}

const STRING_CALL: &str = "(Ljava/lang/String;J)V";

impl Bridge {
    /// Wraps the bridge object the shim passed to `start`, resolving every method the core calls
    /// and checking the shim's failure kinds against the core's.
    pub fn new(env: &mut JNIEnv<'_>, object: &JObject<'_>) -> Result<Self, BridgeError> {
        let class = env.get_object_class(object)?;
        let mut method = |name: &'static str, signature: &'static str| {
            env.get_method_id(&class, name, signature).map_err(|_| {
                let _ = env.exception_clear();
                BridgeError::Method { name, signature }
            })
        };
        let methods = Methods {
            list_topics: method("listTopics", STRING_CALL)?,
            describe_topic: method("describeTopic", STRING_CALL)?,
            ensure_namespace: method("ensureNamespace", STRING_CALL)?,
            lookup: method("lookup", STRING_CALL)?,
            authenticate: method("authenticate", STRING_CALL)?,
            create_topic: method("createTopic", "(Ljava/lang/String;I[Ljava/lang/String;[Ljava/lang/String;J)V")?,
            alter_topic_configs: method(
                "alterTopicConfigs",
                "(Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;J)V",
            )?,
            set_topic_property: method(
                "setTopicProperty",
                "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)V",
            )?,
            update_partitions: method("updatePartitions", "(Ljava/lang/String;IJ)V")?,
            delete_topic: method("deleteTopic", STRING_CALL)?,
            open_partition: method("openPartition", STRING_CALL)?,
            save_snapshot: method("saveSnapshot", "(Ljava/lang/String;[BJ)V")?,
            append: method("append", "(Ljava/lang/String;Ljava/nio/ByteBuffer;IJ)V")?,
            read: method("read", "(Ljava/lang/String;JJIJJ)V")?,
            find_position: method("findPosition", "(Ljava/lang/String;IJJ)V")?,
        };
        let core = env.find_class("io/kop/pulsar/NativeCore")?;
        for (name, kind) in Failure::ALL {
            let expected = kind.code();
            let found = env.get_static_field(&core, name, "I").and_then(|v| v.i()).map_err(|_| {
                let _ = env.exception_clear();
                BridgeError::Kind { name, found: -1, expected }
            })?;
            if found != expected {
                return Err(BridgeError::Kind { name, found, expected });
            }
        }
        Ok(Bridge { jvm: env.get_java_vm()?, object: env.new_global_ref(object)?, methods })
    }

    /// Calls a resolved `void` method of the bridge object.
    fn invoke(
        env: &mut JNIEnv<'_>,
        obj: &JObject<'_>,
        method: JMethodID,
        args: &[JValue<'_, '_>],
    ) -> jni::errors::Result<()> {
        let args: Vec<jni::sys::jvalue> = args.iter().map(JValue::as_jni).collect();
        // SAFETY: `method` was resolved on this object's class with a `void` signature whose
        // parameters are exactly the kinds the callers pass, in order.
        unsafe { env.call_method_unchecked(obj, method, ReturnType::Primitive(Primitive::Void), &args) }.map(drop)
    }

    /// A call of a bridge method that takes one string and the call id.
    fn call_with_string(&self, method: JMethodID, text: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let text = env.new_string(text)?;
            Self::invoke(env, obj, method, &[JValue::Object(&text), JValue::Long(id)])
        })
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
            let reply = Reply::Failed(Failure::Storage, format!("call into the broker failed: {e}"));
            return futures::future::ready(reply).boxed();
        }
        async move {
            match tokio::time::timeout(CALL_TIMEOUT, rx).await {
                Ok(reply) => {
                    reply.unwrap_or_else(|_| Reply::Failed(Failure::Storage, "the broker dropped the call".into()))
                }
                Err(_) => {
                    registry().lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                    tracing::warn!(call = id, "the broker did not answer a call in time");
                    Reply::Failed(
                        Failure::Storage,
                        format!("the broker did not answer within {}s", CALL_TIMEOUT.as_secs()),
                    )
                }
            }
        }
        .boxed()
    }
}

impl BrokerCalls for Bridge {
    fn list_topics(&self, namespace: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.list_topics, namespace)
    }

    fn describe_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.describe_topic, topic)
    }

    fn ensure_namespace(&self, namespace: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.ensure_namespace, namespace)
    }

    fn lookup(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.lookup, partition)
    }

    fn authenticate(&self, token: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.authenticate, token)
    }

    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            let keys = string_array(env, configs.keys())?;
            let values = string_array(env, configs.values())?;
            Self::invoke(
                env,
                obj,
                self.methods.create_topic,
                &[
                    JValue::Object(&name),
                    JValue::Int(partitions),
                    JValue::Object(&keys),
                    JValue::Object(&values),
                    JValue::Long(id),
                ],
            )
        })
    }

    fn alter_topic_configs(
        &self,
        topic: &str,
        configs: &BTreeMap<String, String>,
        removed: &[String],
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            let keys = string_array(env, configs.keys())?;
            let values = string_array(env, configs.values())?;
            let removed = string_array(env, removed.iter())?;
            Self::invoke(
                env,
                obj,
                self.methods.alter_topic_configs,
                &[
                    JValue::Object(&name),
                    JValue::Object(&keys),
                    JValue::Object(&values),
                    JValue::Object(&removed),
                    JValue::Long(id),
                ],
            )
        })
    }

    fn set_topic_property(&self, topic: &str, key: &str, value: &str) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let (topic, key, value) = (env.new_string(topic)?, env.new_string(key)?, env.new_string(value)?);
            Self::invoke(
                env,
                obj,
                self.methods.set_topic_property,
                &[JValue::Object(&topic), JValue::Object(&key), JValue::Object(&value), JValue::Long(id)],
            )
        })
    }

    fn update_partitions(&self, topic: &str, partitions: i32) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(topic)?;
            Self::invoke(
                env,
                obj,
                self.methods.update_partitions,
                &[JValue::Object(&name), JValue::Int(partitions), JValue::Long(id)],
            )
        })
    }

    fn delete_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.delete_topic, topic)
    }

    fn open_partition(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.call_with_string(self.methods.open_partition, partition)
    }

    fn save_snapshot(&self, partition: &str, snapshot: &[u8]) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            let bytes = env.byte_array_from_slice(snapshot)?;
            Self::invoke(
                env,
                obj,
                self.methods.save_snapshot,
                &[JValue::Object(&name), JValue::Object(&bytes), JValue::Long(id)],
            )
        })
    }

    fn append(&self, partition: &str, frame: &[u8], records: i32) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            // SAFETY: the buffer aliases `frame`, which outlives this call; Java only reads it, and
            // copies it into its own buffer before `append` returns.
            let buffer = unsafe { env.new_direct_byte_buffer(frame.as_ptr().cast_mut(), frame.len())? };
            Self::invoke(
                env,
                obj,
                self.methods.append,
                &[JValue::Object(&name), JValue::Object(&buffer), JValue::Int(records), JValue::Long(id)],
            )
        })
    }

    fn read(
        &self,
        partition: &str,
        ledger_id: u64,
        entry_id: u64,
        max_entries: i32,
        max_bytes: i64,
    ) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            Self::invoke(
                env,
                obj,
                self.methods.read,
                &[
                    JValue::Object(&name),
                    JValue::Long(ledger_id as i64),
                    JValue::Long(entry_id as i64),
                    JValue::Int(max_entries),
                    JValue::Long(max_bytes),
                    JValue::Long(id),
                ],
            )
        })
    }

    fn find_position(&self, partition: &str, field: Field, value: i64) -> BoxFuture<'static, Reply> {
        self.call(|env, obj, id| {
            let name = env.new_string(partition)?;
            Self::invoke(
                env,
                obj,
                self.methods.find_position,
                &[JValue::Object(&name), JValue::Int(field.code()), JValue::Long(value), JValue::Long(id)],
            )
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
