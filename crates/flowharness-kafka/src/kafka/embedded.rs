//! The embedded broker: tansu's Kafka protocol handlers, in-process, on
//! its own OS thread with its own tokio runtime (a blocking rdkafka call on
//! the caller's runtime would deadlock it). Records live in a bounded
//! in-memory log (`memory_log`, under a `Retention`); topics, groups and
//! committed offsets in tansu's memory engine. Stopping aborts its tasks;
//! the port is free again shortly after, so a test can start it again on
//! the same port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rama::{Context, Service};
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::{BrokerRegistrationRequest, Storage, StorageContainer};

use super::log_storage::LogStorage;
use super::memory_log::{LogStats, MemoryLog};
use super::retention::{BrokerStore, Retention};
use crate::error::{Error, Result};

const CLUSTER: &str = "flowharness";
const NODE: i32 = 111;

/// A running embedded broker; dropping it stops it.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    log: Arc<MemoryLog>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

pub(super) fn free_port(ip: std::net::IpAddr) -> Result<u16> {
    let probe = TcpListener::bind((ip, 0)).map_err(|e| Error::system(format!("no free port on {ip}"), e))?;
    probe
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::system(format!("no free port on {ip}"), e))
}

/// Where the broker keeps records: its own bounded log in memory, or
/// tansu's sqlite engine in a directory (data that survives a restart).
#[derive(Debug, Clone)]
enum Keep {
    Memory(Arc<MemoryLog>),
    Dir(PathBuf),
}

/// `sqlite:` URL for a database file. tansu resolves the URL's path against
/// the working directory after stripping one leading `/`, so an absolute
/// file is written with two.
fn sqlite_url(file: &Path) -> std::result::Result<url::Url, String> {
    let absolute = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    url::Url::parse(&format!("sqlite:///{}", absolute.display())).map_err(|e| format!("{}: {e}", file.display()))
}

/// Builds the storage and serves connections until `stopped` fires.
async fn serve(
    addr: SocketAddr,
    advertised: url::Url,
    keep: Keep,
    ready: std::sync::mpsc::Sender<std::result::Result<(), String>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let url = match &keep {
        Keep::Memory(_) => url::Url::parse("memory://tansu/").map_err(|e| e.to_string()),
        Keep::Dir(dir) => std::fs::create_dir_all(dir)
            .map_err(|e| format!("--data-dir {}: {e}", dir.display()))
            .and_then(|()| sqlite_url(&dir.join("flowharness-broker.db"))),
    };
    let url = match url {
        Ok(u) => u,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let inner = match StorageContainer::builder()
        .node_id(NODE)
        .cluster_id(CLUSTER)
        .advertised_listener(advertised)
        .storage(url)
        .silent(true)
        .build()
        .await
    {
        Ok(inner) => inner,
        Err(e) => {
            let _ = ready.send(Err(format!("storage: {e}")));
            return;
        }
    };
    match keep {
        Keep::Memory(log) => {
            serve_with(
                LogStorage::new(inner, log),
                addr,
                Duration::from_secs(1),
                ready,
                stopped,
            )
            .await;
        }
        Keep::Dir(_) => serve_with(inner, addr, Duration::from_secs(60), ready, stopped).await,
    }
}

async fn serve_with<S: Storage + Clone>(
    storage: S,
    addr: SocketAddr,
    maintain_every: Duration,
    ready: std::sync::mpsc::Sender<std::result::Result<(), String>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        let _ = ready.send(Err(format!("{what}: {e}")));
    };
    if let Err(e) = storage
        .register_broker(BrokerRegistrationRequest {
            broker_id: NODE,
            cluster_id: CLUSTER.into(),
            incarnation_id: uuid::Uuid::new_v4(),
            rack: None,
        })
        .await
    {
        return fail("registering the broker", &e);
    }
    let groups = match Controller::with_storage(storage.clone()) {
        Ok(g) => g,
        Err(e) => return fail("group coordinator", &e),
    };
    let socket = match tokio::net::TcpListener::bind(addr).await {
        Ok(s) => s,
        Err(e) => return fail("listening", &e),
    };
    let _ = ready.send(Ok(()));
    let mut maintenance = tokio::time::interval(maintain_every);
    let mut stopped = stopped;
    loop {
        tokio::select! {
            accepted = socket.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let service = match tansu_broker::service::services(CLUSTER, groups.clone(), storage.clone(), None) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("embedded broker: {e}");
                        continue;
                    }
                };
                tokio::spawn(async move {
                    if let Err(e) = service.serve(Context::default(), stream).await {
                        tracing::debug!("embedded broker connection: {e}");
                    }
                });
            }
            _ = maintenance.tick() => {
                let _ = storage.maintain(SystemTime::now()).await;
            }
            _ = &mut stopped => break,
        }
    }
}

impl EmbeddedBroker {
    /// Starts on `listen` (port 0 picks a free one), telling clients to
    /// connect to `advertised` (`host:port`; default: the listening address,
    /// 127.0.0.1 for an unspecified one), keeping records as `store` says.
    /// A broker in a container listens on 0.0.0.0 and advertises the address
    /// its port is mapped to.
    pub fn start(listen: SocketAddr, advertised: Option<&str>, store: &BrokerStore) -> Result<EmbeddedBroker> {
        let retention = store.retention;
        let port = if listen.port() == 0 {
            free_port(listen.ip())?
        } else {
            listen.port()
        };
        let addr = SocketAddr::new(listen.ip(), port);
        let advertised_ip = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let advertised_at = advertised.map_or_else(|| format!("{advertised_ip}:{port}"), str::to_string);
        let advertised = url::Url::parse(&format!("tcp://{advertised_at}"))
            .map_err(|e| Error::Usage(format!("embedded broker: --advertised-listener {advertised_at:?}: {e}")))?;
        let log = Arc::new(MemoryLog::new(retention));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, started) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
        let keep = match &store.data_dir {
            Some(dir) => Keep::Dir(dir.clone()),
            None => Keep::Memory(Arc::clone(&log)),
        };
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(serve(addr, advertised, keep, ready, stopped));
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| Error::system("embedded broker: cannot start a thread", e))?;
        match started.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::unreachable(format!("embedded broker on {addr}"), e)),
            Err(_) => {
                return Err(Error::unanswered(format!(
                    "embedded broker on {addr}: did not start within 30 s"
                )));
            }
        }
        let broker = EmbeddedBroker {
            addr: SocketAddr::new(advertised_ip.parse().unwrap_or(addr.ip()), port),
            log,
            stop: Some(stop),
            thread: Some(thread),
        };
        broker.wait_listening(Duration::from_secs(10))?;
        Ok(broker)
    }

    /// What its log holds and has dropped under retention.
    pub fn log_stats(&self) -> LogStats {
        self.log.stats()
    }

    pub fn retention(&self) -> Retention {
        self.log.retention()
    }

    fn wait_listening(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(Error::Usage(format!(
            "embedded broker on {}: not listening after {within:?}",
            self.addr
        )))
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the broker and waits until its port is free.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.shutdown();
    }
}
