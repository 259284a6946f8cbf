//! Shared by the protocol integration tests: a server on a free port with the in-memory
//! backend, a raw protocol client, and helpers to find the external clients.
#![allow(dead_code)]

pub mod memory;
pub mod php;
pub mod raw_client;

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use dbwire::server::{serve, ServerConfig, StopHandle};

use self::memory::MemoryBackend;

/// A server running on 127.0.0.1 with a [`MemoryBackend`]; stopped when dropped.
pub struct TestServer {
    /// The port it listens on.
    pub port: u16,
    stop: StopHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub fn start() -> TestServer {
        TestServer::with_config(ServerConfig::default())
    }

    /// Starts a server with `config`.
    pub fn with_config(config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = StopHandle::new();
        let backend = Arc::new(MemoryBackend::new());
        let handle = stop.clone();
        let thread = thread::spawn(move || serve(listener, backend, config, handle));
        TestServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting and waits for `serve` to return.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        self.stop.stop();
        match self.thread.take() {
            Some(thread) => thread.join().expect("serve panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// The `mysql` command-line client; panics with a clear message when it is not installed.
pub fn mysql_cli() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let path = PathBuf::from(dir).join("mysql");
        if path.exists() {
            return path;
        }
    }
    panic!("the `mysql` client is not installed; run `apt-get install mariadb-client`");
}
