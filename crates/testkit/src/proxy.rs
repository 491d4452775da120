//! A TCP proxy that can cut a dependency off, for outage tests against the real PostgreSQL and Redis.
//!
//! The service under test is pointed at the proxy instead of the server. [`TcpProxy::cut`] drops every open
//! connection and refuses new ones (as a crashed server or a partitioned network would);
//! [`TcpProxy::stall`] accepts connections but forwards nothing (a hung server: only timeouts help);
//! [`TcpProxy::restore`] lets traffic through again, so recovery without a restart can be asserted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy to one upstream address.
pub struct TcpProxy {
    listen: SocketAddr,
    open: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding from a free loopback port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let listen = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let accept_stalled = stalled.clone();
        let (generation, _) = watch::channel(0u64);
        let upstream = upstream.to_owned();
        let accept_open = open.clone();
        let accept_generation = generation.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                if !accept_open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = accept_generation.subscribe();
                if accept_stalled.load(Ordering::SeqCst) {
                    // Hold the connection open and silent until the next cut or restore.
                    tokio::spawn(async move {
                        let _held = client;
                        let _ = cut.changed().await;
                    });
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        TcpProxy { listen, open, stalled, generation, task }
    }

    /// `host:port` to give the service instead of the upstream's.
    pub fn address(&self) -> String {
        self.listen.to_string()
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Drops every connection, then accepts new ones without ever answering.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again (held stalled connections are dropped).
    pub fn restore(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.open.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `host:port` of a URL such as `postgres://u:p@127.0.0.1:5432/db` or `redis://127.0.0.1:6379`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// `url` with its `host:port` replaced by `address`.
pub fn via(url: &str, address: &str) -> String {
    url.replacen(&host_port(url), address, 1)
}

/// An environment customiser that points the service's Redis at `proxy` (started on the test Redis) with a
/// short timeout, so a cut is noticed quickly.
pub fn redis_behind(proxy: &TcpProxy) -> impl FnOnce(&mut bss_common::config::Env) + '_ {
    move |env| {
        env.set("REDIS_URL", via(&crate::redis_url(), &proxy.address()));
        env.set("REDIS_TIMEOUT_MS", "300");
    }
}
