//! The `tidewater` binary: starts a server from flags, environment and an
//! optional config file, and stops it on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tidewater_server::Server;
use tidewater_server::config::{ClusterSettings, Config};

/// Tidewater: a streaming SQL server for bounded and unbounded tables,
/// speaking the Postgres wire protocol.
#[derive(Debug, Parser)]
#[command(name = "tidewater", version)]
struct Args {
    /// TOML config file.
    #[arg(long, env = "TIDEWATER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (default ./tidewater-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Postgres wire protocol address (default 127.0.0.1:6543).
    #[arg(long)]
    pg_listen: Option<SocketAddr>,
    /// Arrow Flight SQL address (default 127.0.0.1:6544; not served yet).
    #[arg(long)]
    flight_listen: Option<SocketAddr>,
    /// HTTP / web UI address (default 127.0.0.1:6545; not served yet).
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// Worker threads (default: number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// How often running materialized views are checkpointed (default `10 seconds`).
    #[arg(long)]
    checkpoint_interval: Option<String>,
    /// Where checkpoints go: `s3://bucket/prefix` (default: the data directory).
    #[arg(long)]
    checkpoint_store: Option<String>,
    /// Cluster hosts file: `host:port` of every process, one per line.
    #[arg(long, requires = "process")]
    cluster_hosts: Option<PathBuf>,
    /// This process's index in the hosts file (0 serves clients).
    #[arg(long, requires = "cluster_hosts")]
    process: Option<usize>,
}

fn build_config(args: Args) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    config.apply_env(std::env::vars())?;
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.pg_listen {
        config.pg_listen = v;
    }
    if let Some(v) = args.flight_listen {
        config.flight_listen = v;
    }
    if let Some(v) = args.http_listen {
        config.http_listen = v;
    }
    if let Some(v) = args.workers {
        config.workers = v;
    }
    if let Some(v) = args.checkpoint_interval {
        config.checkpoint_interval = v;
    }
    if let Some(v) = args.checkpoint_store {
        config.checkpoint_store = Some(v);
    }
    if let (Some(hosts_file), Some(process)) = (args.cluster_hosts, args.process) {
        config.cluster = Some(ClusterSettings {
            hosts_file,
            process,
        });
    }
    Ok(config)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TIDEWATER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = build_config(Args::parse())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tidewater-io")
        .build()?;
    let result = rt.block_on(async move {
        let server = Server::start(config).await?;
        if server.is_leader() {
            wait_for_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
        } else {
            tracing::info!("cluster follower running; stops when process 0 shuts down");
            tokio::select! {
                _ = server.wait_follower() => {}
                _ = wait_for_signal() => {
                    tracing::warn!("stopping a cluster follower: process 0 loses its workers");
                }
            }
        }
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    });
    // A follower stopped by a signal still has a blocking task joining its
    // workers; do not wait for it.
    rt.shutdown_background();
    result
}
