//! The real sync server on 127.0.0.1:0, in its own tokio runtime on a background thread, so
//! the blocking device client and the tests' own threads can talk to it over real sockets.

use std::net::SocketAddr;
use std::sync::mpsc;

use sync_server::{Config, RunningServer};

use crate::desk::{Desk, PASSWORD};

#[derive(Debug)]
pub struct Server {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<RunningServer>,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(|_| {})
    }

    pub fn start_with(tune: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::for_tests(dir.path().join("data"));
        tune(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = runtime
            .block_on(sync_server::start(config.clone()))
            .expect("server starts");
        Server {
            dir,
            addr: running.addr(),
            config,
            runtime: Some(runtime),
            running: Some(running),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new organisation with one dispatcher, logged in.
    pub fn desk(&self, org: &str) -> Desk {
        let email = format!("desk@{}.example", org.to_lowercase().replace(' ', "-"));
        let runtime = self.runtime.as_ref().expect("running");
        runtime
            .block_on(sync_server::create_dispatcher(
                &self.config,
                org,
                &email,
                "Desk",
                PASSWORD,
            ))
            .expect("dispatcher");
        Desk::login(&self.url(), &email, PASSWORD)
    }

    /// Run a future on the server's runtime (for storage queries in assertions).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().expect("running").block_on(f)
    }

    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("running")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let (Some(rt), Some(running)) = (self.runtime.take(), self.running.take()) {
            let (tx, rx) = mpsc::channel();
            rt.block_on(async move {
                running.shutdown().await;
                let _ = tx.send(());
            });
            let _ = rx.recv();
            rt.shutdown_background();
        }
    }
}
