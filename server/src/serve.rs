//! The serving loop: accept connections (optionally TLS), serve HTTP/1.1 with a header read
//! timeout, run the periodic housekeeping, and shut down gracefully (stop accepting, let the
//! requests in flight finish within the grace period).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::app;
use crate::config::{ServerConfig, TlsFiles};
use crate::error::ServerError;
use crate::state::AppState;
use crate::tus;

/// How often expired uploads are cleared.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Serve on `listener` until `shutdown` completes, then finish the requests in flight (for at
/// most `config.shutdown_grace`). The data directory must have been made by [`crate::init`].
pub async fn serve(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    // Opening connects to the database with blocking clients: off the async threads.
    let opening = config.clone();
    let state = tokio::task::spawn_blocking(move || AppState::open(&opening))
        .await
        .map_err(|_| ServerError::Invalid("opening the server's state failed".into()))??;
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let app = app::router(state.clone());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let alerts =
        config.alerts.clone().map(|a| tokio::spawn(crate::console::alerts::run(state.clone(), a)));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, tls = tls.is_some(), "serving");
    }
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(kind = %e.kind(), "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        // The console's login rate limit is per client address.
        let service = TowerToHyperService::new(tower_http::add_extension::AddExtension::new(
            app.clone(),
            crate::console::PeerAddr(peer),
        ));
        let http = http.clone();
        let watcher = graceful.watcher();
        match &tls {
            None => {
                let conn = http.serve_connection(TokioIo::new(tcp), service);
                tokio::spawn(async move {
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let handshake_timeout = config.header_timeout;
                tokio::spawn(async move {
                    let stream =
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    housekeeping.abort();
    if let Some(a) = alerts {
        a.abort();
    }
    tracing::info!(connections = graceful.count(), "shutting down");
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after the grace period were cut");
    }
    Ok(())
}

async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tick.tick().await;
        if let Ok(uploads) = tus::expire_uploads(&state).await {
            tracing::debug!(nonces = state.nonces.len(), uploads, "housekeeping");
        }
        if state.db.engine() == crate::sql::Engine::Postgres {
            if let Err(e) = crate::nonces::forget_shared(&state.db, state.now_ms()).await {
                tracing::error!(code = %e.body.code, "forgetting old nonces failed");
            }
        }
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServerError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!("{}: no certificate", files.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.key.display())))?;
    // ring, as everywhere in the project (aws-lc-rs needs a C toolchain and cmake). rustls
    // deprecates ring's provider for lacking post-quantum key exchange; classical ECDHE is
    // what the phones' TLS stacks offer today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A server running on its own thread and runtime, for callers without one (the phone CLI's
/// demo, blocking tests). Stopped (gracefully) by [`BackgroundServer::stop`] or on drop.
pub struct BackgroundServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl BackgroundServer {
    /// Bind `listen` (`127.0.0.1:0` picks a free port) and serve.
    pub fn start(config: ServerConfig, listen: &str) -> Result<BackgroundServer, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("safehome-server")
            .build()
            .map_err(ServerError::io("starting the server's runtime"))?;
        let listener = runtime
            .block_on(TcpListener::bind(listen))
            .map_err(ServerError::io(format!("binding {listen}")))?;
        let addr = listener.local_addr().map_err(ServerError::io("reading the bound address"))?;
        // A bad data directory or TLS file fails `start`, not the thread.
        AppState::open(&config)?;
        if let Some(files) = &config.tls {
            tls_acceptor(files)?;
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("safehome-server".into())
            .spawn(move || {
                runtime.block_on(serve(config, listener, async {
                    let _ = stopped.await;
                }))
            })
            .map_err(ServerError::io("starting the server's thread"))?;
        Ok(BackgroundServer { addr, stop: Some(stop), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (plain HTTP; with TLS the scheme is https).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let requests in flight finish, and wait for the thread.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServerError::Invalid("the server's thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
