//! The embedded broker: tansu, in-process, memory storage, on its own OS
//! thread with its own tokio runtime (a blocking rdkafka call on the
//! caller's runtime would deadlock it). Stopping aborts its task; the port
//! is free again shortly after, so a test can start it again on the same
//! port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::StorageContainer;

use crate::error::{Error, Result};

/// A running embedded broker; dropping it stops it.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

pub(super) fn free_port(ip: std::net::IpAddr) -> Result<u16> {
    let probe = TcpListener::bind((ip, 0)).map_err(|e| Error::Usage(format!("no free port on {ip}: {e}")))?;
    probe
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Usage(format!("no free port on {ip}: {e}")))
}

impl EmbeddedBroker {
    /// Starts on `listen` (port 0 picks a free one), telling clients to
    /// connect to `advertised` (`host:port`; default: the listening address,
    /// 127.0.0.1 for an unspecified one). A broker in a container listens on
    /// 0.0.0.0 and advertises the address its port is mapped to.
    pub fn start(listen: SocketAddr, advertised: Option<&str>) -> Result<EmbeddedBroker> {
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
        let listener =
            url::Url::parse(&format!("tcp://{addr}")).map_err(|e| Error::Usage(format!("embedded broker: {e}")))?;
        let advertised_at = advertised.map_or_else(|| format!("{advertised_ip}:{port}"), str::to_string);
        let advertised = url::Url::parse(&format!("tcp://{advertised_at}"))
            .map_err(|e| Error::Usage(format!("embedded broker: --advertised-listener {advertised_at:?}: {e}")))?;
        let storage = url::Url::parse("memory://tansu/").map_err(|e| Error::Usage(format!("embedded broker: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, started) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
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
                runtime.block_on(async move {
                    let built = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
                        .node_id(111)
                        .cluster_id("flowharness")
                        .incarnation_id(uuid::Uuid::new_v4())
                        .listener(listener)
                        .advertised_listener(advertised)
                        .storage(storage)
                        .silent(true)
                        .build()
                        .await;
                    let mut broker = match built {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = ready.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    tokio::select! {
                        served = broker.serve(tokio::time::Instant::now()) => {
                            if let Err(e) = served {
                                tracing::error!("embedded broker stopped: {e}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| Error::Usage(format!("embedded broker: cannot start a thread: {e}")))?;
        match started.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Usage(format!("embedded broker on {addr}: {e}"))),
            Err(_) => {
                return Err(Error::Usage(format!(
                    "embedded broker on {addr}: did not start within 30 s"
                )));
            }
        }
        let broker = EmbeddedBroker {
            addr: SocketAddr::new(advertised_ip.parse().unwrap_or(addr.ip()), port),
            stop: Some(stop),
            thread: Some(thread),
        };
        broker.wait_listening(Duration::from_secs(10))?;
        Ok(broker)
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
