//! kop-bench: measures produce and consume throughput and produce latency against any Kafka
//! broker, with librdkafka (the `rdkafka` crate), so kop and other brokers are measured the same way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, TopicPartitionList};

#[derive(Parser, Debug)]
#[command(about = "Kafka produce/consume benchmark")]
struct Args {
    /// Bootstrap address of the broker under test.
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    /// Topic to create and use (a fresh name per run is best).
    #[arg(long)]
    topic: String,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// Value size in bytes.
    #[arg(long, default_value_t = 1024)]
    message_size: usize,
    /// Messages to produce and then consume.
    #[arg(long, default_value_t = 200_000)]
    messages: usize,
    /// Producer acks: all, 1 or 0.
    #[arg(long, default_value = "all")]
    acks: String,
    /// Producer linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// A label for the report line.
    #[arg(long, default_value = "kop")]
    label: String,
    /// Extra librdkafka client settings, `-X key=value` (e.g. `security.protocol=SSL`).
    #[arg(short = 'X', value_parser = key_value)]
    client: Vec<(String, String)>,
    /// Configs of the created topic, `--topic-config key=value` (e.g. `segment.bytes=1048576`).
    #[arg(long, value_parser = key_value)]
    topic_config: Vec<(String, String)>,
    /// Messages per second to offer, evenly spaced; 0 produces flat out. Latency below
    /// saturation is only meaningful at a fixed rate.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Skip the consume phase.
    #[arg(long)]
    produce_only: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("'{s}' is not key=value"))
}

struct Latencies(Mutex<Vec<u32>>);

struct Recorder(Arc<Latencies>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        if let Err((e, _)) = result {
            eprintln!("delivery failed: {e}");
            std::process::exit(1);
        }
        let micros = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner()).push(micros);
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut common = ClientConfig::new();
    common.set("bootstrap.servers", &args.bootstrap);
    for (key, value) in &args.client {
        common.set(key, value);
    }

    let admin: AdminClient<DefaultClientContext> = common.create()?;
    let mut topic = NewTopic::new(&args.topic, args.partitions, TopicReplication::Fixed(1));
    for (key, value) in &args.topic_config {
        topic = topic.set(key, value);
    }
    let rt = futures_lite_block_on(admin.create_topics([&topic], &AdminOptions::new()))?;
    for r in rt {
        if let Err((name, e)) = r {
            return Err(format!("create {name}: {e}").into());
        }
    }

    let payload = vec![b'x'; args.message_size];
    let latencies = Arc::new(Latencies(Mutex::new(Vec::with_capacity(args.messages))));
    let producer: ThreadedProducer<Recorder> = common
        .clone()
        .set("acks", &args.acks)
        .set("linger.ms", args.linger_ms.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Recorder(Arc::clone(&latencies)))?;
    let start = Instant::now();
    for i in 0..args.messages {
        if args.rate > 0 {
            // Paced from the start, not from the last send, so a stall is not forgiven.
            let due = start + Duration::from_secs_f64(i as f64 / f64::from(args.rate));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let key = (i % 1024).to_string();
        let mut record = BaseRecord::with_opaque_to(&args.topic, Box::new(Instant::now())).payload(&payload).key(&key);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let produce_secs = start.elapsed().as_secs_f64();
    let mut lat = latencies.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lat.sort_unstable();
    if lat.len() != args.messages {
        return Err(format!("only {} of {} messages acknowledged", lat.len(), args.messages).into());
    }

    let (consumed_mb, consume_secs) = if args.produce_only { (0.0, 0.0) } else { consume(&args, &common)? };
    let mb = (args.messages * args.message_size) as f64 / 1e6;
    println!(
        "{label}: {n} x {size} B, {parts} partition(s), acks={acks}{rate}: produce {pmb:.1} MB/s ({pmsg:.0} msg/s), \
         p50 {p50:.2} ms, p99 {p99:.2} ms, p999 {p999:.2} ms; consume {cmb:.1} MB/s ({cmsg:.0} msg/s)",
        label = args.label,
        n = args.messages,
        size = args.message_size,
        parts = args.partitions,
        acks = args.acks,
        rate = if args.rate > 0 { format!(", offered {} msg/s", args.rate) } else { String::new() },
        pmb = mb / produce_secs,
        pmsg = args.messages as f64 / produce_secs,
        p50 = percentile(&lat, 0.50),
        p99 = percentile(&lat, 0.99),
        p999 = percentile(&lat, 0.999),
        cmb = if consume_secs > 0.0 { consumed_mb / consume_secs } else { 0.0 },
        cmsg = if consume_secs > 0.0 { consumed_mb * 1e6 / args.message_size as f64 / consume_secs } else { 0.0 },
    );
    Ok(())
}

/// Reads every produced message back from the start; returns the MB read and the seconds taken.
fn consume(args: &Args, common: &ClientConfig) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let consumer: BaseConsumer = common
        .clone()
        .set("group.id", format!("kop-bench-{}", args.topic))
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(&args.topic, p, rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let start = Instant::now();
    let mut consumed = 0usize;
    let mut bytes = 0usize;
    let deadline = start + Duration::from_secs(300);
    while consumed < args.messages && Instant::now() < deadline {
        if let Some(msg) = consumer.poll(Duration::from_millis(500)) {
            let msg = msg?;
            bytes += msg.payload_len();
            consumed += 1;
        }
    }
    let consume_secs = start.elapsed().as_secs_f64();
    if consumed != args.messages {
        return Err(format!("consumed {consumed} of {} messages", args.messages).into());
    }
    Ok((bytes as f64 / 1e6, consume_secs))
}

/// Drives one future to completion on this thread (the admin call is the only async one).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Thread(std::thread::Thread);
    impl Wake for Thread {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Thread(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
