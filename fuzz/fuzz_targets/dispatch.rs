//! Any bytes as a client's conversation: a run of request frames (each a 2-byte length, then
//! the frame as it follows the size on the wire), handled in order by a broker over the
//! in-memory host, each response awaited. Time is virtual, so long polls and rebalance delays
//! pass at once. Nothing panics, aborts or allocates by a count read off the input.
#![no_main]

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kop::broker::Broker;
use kop::config::Config;
use kop::handlers::sasl::Session;
use kop::host::embedded::users::ConfiguredUsers;
use kop::host::memory::MemoryHost;
use libfuzzer_sys::fuzz_target;

/// Runs before the broker is rebuilt, so what the inputs create cannot pile up without end.
const RUNS_PER_BROKER: u32 = 2_000;

struct World {
    runtime: tokio::runtime::Runtime,
    broker: Arc<Broker>,
    runs: u32,
}

fn world() -> World {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime");
    let config = Config {
        kafka_listeners: "PLAINTEXT://127.0.0.1:0".into(),
        offsets_topic_num_partitions: 2,
        max_partitions_per_topic: 8,
        max_request_size: 1 << 16,
        max_message_size: 1 << 15,
        ..Config::default()
    };
    let host = MemoryHost::new(&config);
    let users = Arc::new(ConfiguredUsers::new(Default::default(), Default::default()));
    let broker = runtime.block_on(Broker::open(config, host, users)).expect("broker over the memory host");
    World { runtime, broker, runs: 0 }
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    WORLD.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|w| w.runs >= RUNS_PER_BROKER) {
            *cell = Some(world());
        }
        let world = cell.as_mut().expect("built above");
        world.runs += 1;
        let broker = Arc::clone(&world.broker);
        world.runtime.block_on(async move {
            let peer: SocketAddr = "127.0.0.1:9".parse().expect("address");
            let session = Arc::new(Session::new(false));
            let mut rest = data;
            while rest.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
                let frame = Bytes::copy_from_slice(&rest[2..2 + len]);
                rest = &rest[2 + len..];
                let Ok(completion) = kop::server::connection::handle_frame(&broker, peer, &session, frame).await else {
                    return; // the connection would close here
                };
                // Ten virtual minutes: a response that takes longer is one the client gave up on.
                let _ = tokio::time::timeout(Duration::from_secs(600), completion).await;
            }
        });
    });
});
