//! Running the core inside a Pulsar broker: the JNI entry points of the Java shim
//! (`io.kop.pulsar.NativeCore`), beside `standalone.rs`, which runs it as `kop serve`.
//!
//! `start` checks the config, builds the core's own tokio runtime, binds the Kafka listener,
//! opens the topics in the background and returns a handle; `stop` drains and frees it. Both run
//! on the broker's calling thread, never on a tokio worker. A Rust panic never unwinds into the
//! JVM; it becomes an `IllegalStateException`. The transport the Pulsar host calls the broker
//! through is `jni`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use jni::objects::{JClass, JObject, JString};
use jni::sys::jlong;
use jni::JNIEnv;
use tokio::sync::oneshot;

use crate::broker::{Broker, StartError};
use crate::config::Config;
use crate::host::pulsar::PulsarHost;
use crate::jni::bridge::Bridge;

/// A running core, owned by the Java handler through the handle `start` returned.
struct Running {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    done: std::sync::mpsc::Receiver<()>,
}

/// How long `stop` waits for connections to drain and logs to flush.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the core waits before trying again to open its topics while the broker is not
/// ready for them yet.
const OPEN_RETRY: Duration = Duration::from_secs(2);

/// Checks the config and binds the Kafka listener at once, so a bad setting or a taken port
/// fails the broker's start with its reason. The topics are opened afterwards, in the
/// background: `start` runs while the broker is still starting (it owns no bundle yet, and
/// Pulsar standalone creates its cluster and namespaces only after every handler has started),
/// so opening is retried until the broker can serve it. Clients wait in the listen backlog.
fn start(config_toml: &str, bridge: Bridge) -> Result<jlong, String> {
    // The broker's log is a file, not a terminal: no colour codes in it.
    let _ = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();
    let mut config: Config = toml::from_str(config_toml).map_err(|e| format!("bad kop configuration: {e}"))?;
    config.validate().map_err(|e| e.to_string())?;
    // Brokers of one Pulsar cluster must agree on each other's node ids.
    config.broker_id = config.advertised().map_err(|e| e.to_string())?.node_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kop")
        .build()
        .map_err(|e| format!("cannot start the kop runtime: {e}"))?;
    let listener = runtime.block_on(crate::server::Listener::bind(&config)).map_err(|e| e.to_string())?;
    let addr = listener.local_addr();
    let host = Arc::new(PulsarHost::new(Arc::new(bridge), &config).map_err(|e| e.to_string())?);
    let auth = Arc::new(host.authenticator());
    let (stop, mut stopped) = oneshot::channel::<()>();
    let (finished, done) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let broker = loop {
            match Broker::open(config.clone(), Arc::clone(&host) as _, Arc::clone(&auth) as _).await {
                Ok(broker) => break Some(broker),
                Err(StartError::Host(e)) => {
                    tracing::warn!(error = %e, "the broker cannot serve kop's topics yet; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(OPEN_RETRY) => {}
                        _ = &mut stopped => break None,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "kop cannot start");
                    break None;
                }
            }
        };
        if let Some(broker) = broker {
            tracing::info!(listen = ?addr, topics = broker.topics().all().len(), "kop is serving Kafka from the Pulsar broker");
            crate::server::run(listener, broker, async {
                let _ = stopped.await;
            })
            .await;
        }
        tracing::info!("stopped");
        let _ = finished.send(());
    });
    Ok(Box::into_raw(Box::new(Running { runtime, stop, done })) as jlong)
}

fn stop(handle: jlong) {
    // SAFETY: `handle` came from `Box::into_raw` in `start`, and the shim passes it to `stop`
    // exactly once (it clears its copy first).
    let running = unsafe { Box::from_raw(handle as *mut Running) };
    let Running { runtime, stop, done } = *running;
    let _ = stop.send(());
    if done.recv_timeout(STOP_TIMEOUT).is_err() {
        tracing::warn!("kop did not stop in time; dropping its runtime");
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// `static native long start(String configToml, PulsarBridge bridge)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_start<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    config: JString<'local>,
    bridge: JObject<'local>,
) -> jlong {
    let config: Result<String, String> = env.get_string(&config).map(Into::into).map_err(|e| e.to_string());
    let bridge = Bridge::new(&mut env, &bridge).map_err(|e| format!("cannot bind to the shim: {e}"));
    let outcome = catch_unwind(AssertUnwindSafe(|| config.and_then(|c| start(&c, bridge?))));
    let message = match outcome {
        Ok(Ok(handle)) => return handle,
        Ok(Err(message)) => message,
        Err(_) => "the kop core panicked while starting".to_string(),
    };
    let _ = env.throw_new("java/lang/IllegalStateException", message);
    0
}

/// `static native void stop(long handle)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_stop<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    if handle == 0 {
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| stop(handle))).is_err() {
        let _ = env.throw_new("java/lang/IllegalStateException", "the kop core panicked while stopping");
    }
}
