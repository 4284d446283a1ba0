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
    /// The broker's process id: the report gives the CPU time (user + system) the broker spent
    /// per GB produced and per GB consumed, read from /proc. On a machine where the client
    /// competes for the same cores this is steadier than throughput.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Print the figures as one JSON object instead of the report line (for bench/peers.py).
    #[arg(long)]
    json: bool,
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

/// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11).ok_or("short /proc stat")?.parse::<u64>()?
        + fields.get(12).ok_or("short /proc stat")?.parse::<u64>()?;
    Ok(ticks as f64 / CLOCK_TICKS_PER_SECOND)
}

/// USER_HZ, which Linux fixes at 100 for /proc on every architecture kop runs on.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn broker_cpu(pid: Option<u32>) -> Result<Option<f64>, Box<dyn std::error::Error>> {
    pid.map(cpu_seconds).transpose()
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
    let cpu_at_start = broker_cpu(args.broker_pid)?;
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

    let cpu_after_produce = broker_cpu(args.broker_pid)?;
    let (consumed_mb, consume_secs) = if args.produce_only { (0.0, 0.0) } else { consume(&args, &common)? };
    let cpu_after_consume = broker_cpu(args.broker_pid)?;
    let mb = (args.messages * args.message_size) as f64 / 1e6;
    let per_gb = |secs: f64, mb: f64| if mb > 0.0 { secs / (mb / 1e3) } else { 0.0 };
    let cpu = match (cpu_at_start, cpu_after_produce, cpu_after_consume) {
        (Some(a), Some(b), Some(c)) => Some((per_gb(b - a, mb), per_gb(c - b, consumed_mb))),
        _ => None,
    };
    let report = Report {
        produce_mb_s: mb / produce_secs,
        produce_msg_s: args.messages as f64 / produce_secs,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        p999_ms: percentile(&lat, 0.999),
        consume_mb_s: if consume_secs > 0.0 { consumed_mb / consume_secs } else { 0.0 },
        cpu_s_per_gb: cpu,
    };
    if args.json {
        println!("{}", report.json());
    } else {
        println!("{}", report.line(&args));
    }
    Ok(())
}

/// What one run measured.
struct Report {
    produce_mb_s: f64,
    produce_msg_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    consume_mb_s: f64,
    /// Broker CPU seconds per GB produced and per GB consumed.
    cpu_s_per_gb: Option<(f64, f64)>,
}

impl Report {
    fn line(&self, args: &Args) -> String {
        let rate = if args.rate > 0 { format!(", offered {} msg/s", args.rate) } else { String::new() };
        let cpu = self
            .cpu_s_per_gb
            .map(|(p, c)| format!("; broker CPU {p:.1} s/GB produced, {c:.1} s/GB consumed"))
            .unwrap_or_default();
        format!(
            "{label}: {n} x {size} B, {parts} partition(s), acks={acks}{rate}: produce {pmb:.1} MB/s ({pmsg:.0} msg/s), \
             p50 {p50:.2} ms, p99 {p99:.2} ms, p999 {p999:.2} ms; consume {cmb:.1} MB/s{cpu}",
            label = args.label,
            n = args.messages,
            size = args.message_size,
            parts = args.partitions,
            acks = args.acks,
            pmb = self.produce_mb_s,
            pmsg = self.produce_msg_s,
            p50 = self.p50_ms,
            p99 = self.p99_ms,
            p999 = self.p999_ms,
            cmb = self.consume_mb_s,
        )
    }

    fn json(&self) -> String {
        let (cpu_p, cpu_c) = self
            .cpu_s_per_gb
            .map(|(p, c)| (format!("{p:.3}"), format!("{c:.3}")))
            .unwrap_or(("null".into(), "null".into()));
        format!(
            "{{\"produce_mb_s\": {:.3}, \"produce_msg_s\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"p999_ms\": {:.3}, \
             \"consume_mb_s\": {:.3}, \"cpu_s_per_gb_produced\": {cpu_p}, \"cpu_s_per_gb_consumed\": {cpu_c}}}",
            self.produce_mb_s, self.produce_msg_s, self.p50_ms, self.p99_ms, self.p999_ms, self.consume_mb_s
        )
    }
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
