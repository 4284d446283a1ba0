//! `kop`: the standalone Kafka broker on the embedded storage engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kop::config::Config;
use kop::standalone::Ready;
use kop::standalone::StartError;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(name = "kop", version, about = "Kafka on Pulsar: a Kafka-compatible broker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone broker storing data in local segment files.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to accept Kafka clients on (`host:port`); overrides `kafkaListeners`.
    #[arg(long)]
    listen: Option<String>,
    /// Address announced to clients (`host:port`); overrides `kafkaAdvertisedListeners`.
    #[arg(long)]
    advertised_listener: Option<String>,
    /// Data directory; overrides `dataDir` (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML config file with KoP-style keys (`kafkaListeners`, `defaultNumPartitions`, ...).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let Command::Serve(args) = Cli::parse().command;
    let config = match load_config(args) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kop").build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(args: ServeArgs) -> Result<Config, kop::config::ConfigError> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.kafka_listeners = listen;
    }
    if let Some(adv) = args.advertised_listener {
        config.kafka_advertised_listeners = Some(adv);
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    config.validate()?;
    Ok(config)
}

async fn serve(config: Config) -> Result<(), StartError> {
    Ready::open(config).await?.serve(shutdown_signal()).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
}
