//! `ephpm serve`: starts PHP, one PHP pool and one executor per core, and runs until SIGTERM or
//! SIGINT, then drains in-flight requests.

mod body_buffer;
pub(crate) mod core;
pub(crate) mod handler;
mod http1;
mod http2;
pub(crate) mod limit;
pub(crate) mod mysql;
mod php_request;
mod preflight;
pub(crate) mod read_buffer;
pub(crate) mod shutdown;
pub(crate) mod tls;
mod transport;

use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::acme;
use crate::config::AcmeChallenge;

use crate::config::Config;
use crate::db::{self, BoundDatabase, Database};
use crate::kvstore;
use crate::node_api::{self, NodeApi};
use crate::php::{self, PhpPool};
use crate::router::DocRoot;
use shutdown::StopFlag;

/// Serves `config` until a stop signal, then drains and returns.
pub fn serve(config: Config) -> anyhow::Result<()> {
    let docroot = DocRoot::new(&config.server.document_root)
        .with_context(|| format!("document root {}", config.server.document_root.display()))?;
    preflight::check_io_uring()?;
    let worker = worker_spec(&config, &docroot)?;
    if let Some(worker) = &worker {
        reload_workers_on_sighup(worker.reload.clone())?;
        let watched: Vec<_> = config
            .php
            .worker
            .watch
            .iter()
            .map(|path| docroot.path().join(path))
            .collect();
        if !watched.is_empty() {
            php::watch_files(watched, worker.reload.clone())?;
        }
    }
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let cores = match config.server.cores {
        0 => cpus.len().max(1),
        n => n,
    };
    let database = start_database(&config, cores)?;
    let store = config
        .kv
        .enabled
        .then(|| kvstore::open_store(&config.kv))
        .transpose()?;
    let http_limit = limit::ConnectionLimit::new("HTTP", config.server.max_connections);
    let tls = config
        .server
        .tls
        .enabled()
        .then(|| tls::server_config(&config.server.tls, config.server.http2))
        .transpose()?;
    let certificates = tls
        .as_ref()
        .map(|(_, certificates)| Arc::clone(certificates))
        .unwrap_or_default();
    let tls_stats = Arc::new(tls::HandshakeStats::new(Arc::clone(&certificates)));
    let tls = tls.map(|(server_config, _)| server_config);
    let acme_tokens = config
        .server
        .tls
        .acme
        .enabled()
        .then(|| -> anyhow::Result<Arc<acme::HttpTokens>> {
            let tokens = Arc::new(acme::HttpTokens::default());
            acme::start(
                &config.server.tls.acme,
                Arc::clone(&certificates),
                Arc::clone(&tokens),
            )?;
            Ok(tokens)
        })
        .transpose()?
        .filter(|_| config.server.tls.acme.challenge == AcmeChallenge::Http01);
    let kv_limit = limit::ConnectionLimit::new("KV", config.kv.max_connections);
    let node_api = config
        .node_api
        .enabled
        .then(|| {
            let mut listeners = vec![http_limit.clone()];
            if store.is_some() {
                listeners.push(kv_limit.clone());
            }
            let sources = node_api::Sources {
                proxy: database.as_ref().and_then(Database::proxy),
                database: database
                    .as_ref()
                    .map(|database| database.executor_spec().server),
                kv: store.clone(),
                listeners,
                tls: config.server.tls.enabled().then(|| Arc::clone(&tls_stats)),
                workers: worker.as_ref().map(|spec| Arc::clone(&spec.stats)),
                reload: worker.as_ref().map(|spec| spec.reload.clone()),
            };
            NodeApi::start(&config.node_api, sources)
        })
        .transpose()?;
    let engine = php::start_server_engine(&config, store.clone().map(kvstore::host_functions))?;
    let stop = StopFlag::default();
    stop.install_signal_handlers()
        .context("installing signal handlers")?;
    raise_file_limit(&config);

    let persistence = match &store {
        Some(store) if config.kv.persistence => {
            Some(kvstore::start_persistence(Arc::clone(store), stop.clone())?)
        }
        _ => None,
    };
    let mut pools = Vec::with_capacity(cores);
    let mut executors = Vec::with_capacity(cores);
    let (events_tx, events_rx) = mpsc::channel();
    for index in 0..cores {
        let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
        let pool = PhpPool::start(
            engine,
            cpu,
            index,
            config.php.threads_per_core,
            config.server.queue_depth,
            worker.clone(),
        )
        .context("starting PHP threads")?;
        let spec = core::CoreSpec {
            index,
            cpu: cpu.map(|c| c.id),
            config: config.clone(),
            docroot: docroot.clone(),
            pool: pool.handle(),
            stop: stop.clone(),
            kv: store.clone(),
            http_limit: http_limit.clone(),
            kv_limit: kv_limit.clone(),
            tls: tls.clone(),
            tls_stats: Arc::clone(&tls_stats),
            acme_tokens: acme_tokens.clone(),
            mysql: database.as_ref().map(Database::executor_spec),
            worker: worker.as_ref().map(|spec| {
                Arc::new(handler::WorkerRoute {
                    script: spec.script.clone(),
                    env: spec.env.clone(),
                })
            }),
        };
        pools.push(pool);
        executors.push(core::spawn(spec, events_tx.clone())?);
    }
    drop(events_tx);
    wait_until_listening(&events_rx, cores, &stop)?;
    log::info!(
        "ePHPm {} serving {} on http://{} ({cores} core(s), {} PHP thread(s) per core, PHP {})",
        env!("CARGO_PKG_VERSION"),
        docroot.path().display(),
        config.server.listen,
        config.php.threads_per_core,
        php_sys::Engine::php_version(),
    );
    if tls.is_some() {
        log::info!("HTTPS on https://{}", config.server.tls.listen);
    }

    let mut core_lost = watch_cores(&events_rx, cores, &stop);
    for executor in executors {
        if let Err(err) = executor.join() {
            log::error!("a core stopped with an error: {err}");
            core_lost = true;
        }
    }
    let deadline = Instant::now() + config.server.drain_timeout.0;
    for pool in pools {
        pool.join(deadline);
    }
    if let Some(thread) = persistence {
        let _ = thread.join();
    }
    if let Some(store) = &store {
        kvstore::save_at_shutdown(store);
    }
    if let Some(node_api) = node_api {
        node_api.stop();
    }
    if let Some(database) = database {
        database.stop();
    }
    if core_lost {
        bail!("a core was lost while serving (see the log); exiting with an error so that a supervisor restarts ePHPm");
    }
    log::info!("stopped");
    Ok(())
}

/// Waits until every core's executor has ended. A core that ends before a stop was asked for
/// was lost (a panic outside any connection, an executor failure): the others are stopped
/// too, and the result is true so the process exits non-zero.
fn watch_cores(events: &mpsc::Receiver<core::CoreEvent>, cores: usize, stop: &StopFlag) -> bool {
    let mut exited = 0;
    let mut lost = false;
    while exited < cores {
        match events.recv() {
            Ok(core::CoreEvent::Exited(index)) => {
                exited += 1;
                if !stop.is_set() {
                    log::error!("core {index} stopped unexpectedly; shutting down");
                    lost = true;
                    stop.trigger();
                }
            }
            Ok(core::CoreEvent::Failed(message)) => log::error!("{message}"),
            Ok(core::CoreEvent::Listening) => {}
            Err(_) => break,
        }
    }
    lost
}

/// Raises the soft limit on open files to the hard limit (as nginx's
/// `worker_rlimit_nofile` would), and warns when the listeners' `max_connections` together
/// could still run the process out of descriptors.
fn raise_file_limit(config: &Config) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            log::warn!("could not read or raise the open file limit: {err}");
            return;
        }
    };
    let wanted = config.server.max_connections as u64
        + if config.kv.enabled {
            config.kv.max_connections as u64
        } else {
            0
        }
        + if config.db.enabled {
            config.db.max_connections as u64
        } else {
            0
        }
        + if config.node_api.enabled {
            config.node_api.max_connections as u64
        } else {
            0
        };
    if wanted + FILES_IN_RESERVE > limit {
        log::warn!(
            "the open file limit ({limit}) is below the listeners' max_connections together \
             ({wanted}) plus {FILES_IN_RESERVE} for files and the database: raise LimitNOFILE \
             (ulimit -n) or lower max_connections"
        );
    }
}

/// Descriptors kept for everything that is not a client connection: PHP's files, SQLite,
/// logs, io_uring.
const FILES_IN_RESERVE: u64 = 1024;

/// Starts the built-in database when enabled and, with `db.inject_env`, exports its address to
/// PHP's environment. Runs before any other thread exists, so changing the environment is safe.
fn start_database(config: &Config, cores: usize) -> anyhow::Result<Option<Database>> {
    if !config.db.enabled {
        return Ok(None);
    }
    let bound = BoundDatabase::bind(&config.db)?;
    if config.db.inject_env {
        for (name, value) in db::php_environment(&config.db, bound.address()) {
            std::env::set_var(name, value);
        }
    }
    Ok(Some(bound.start(&config.db, cores)?))
}

fn wait_until_listening(
    events: &mpsc::Receiver<core::CoreEvent>,
    cores: usize,
    stop: &StopFlag,
) -> anyhow::Result<()> {
    for _ in 0..cores {
        match events.recv() {
            Ok(core::CoreEvent::Listening) => {}
            Ok(core::CoreEvent::Failed(message)) => {
                stop.trigger();
                bail!("{message}");
            }
            Ok(core::CoreEvent::Exited(_)) | Err(_) => {
                stop.trigger();
                bail!("a core exited during start-up (see the message above)");
            }
        }
    }
    Ok(())
}

/// The workers of `[php.worker]`, with the script resolved against the document root; a
/// missing script is a start-up error.
fn worker_spec(config: &Config, docroot: &DocRoot) -> anyhow::Result<Option<php::WorkerSpec>> {
    let worker = &config.php.worker;
    if !worker.enabled() {
        return Ok(None);
    }
    let script = docroot.path().join(&worker.script);
    let script = script
        .canonicalize()
        .with_context(|| format!("php.worker.script {}", script.display()))?;
    Ok(Some(php::WorkerSpec {
        script,
        docroot: docroot.path().to_path_buf(),
        workers: match worker.workers {
            0 => config.php.threads_per_core,
            n => n,
        },
        max_requests: worker.max_requests,
        reload: php::Reload::default(),
        stats: Arc::default(),
        env: worker
            .env
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    }))
}

/// Reloads the workers on SIGHUP (after a deploy), from a thread of its own.
fn reload_workers_on_sighup(reload: php::Reload) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .context("installing the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("ephpm-sighup".to_owned())
        .spawn(move || {
            for _ in signals.forever() {
                log::info!("SIGHUP: reloading the PHP workers");
                reload.trigger();
            }
        })
        .context("starting the SIGHUP thread")?;
    Ok(())
}

/// `future`'s output, or `None` if `limit` passes first (on the core's glommio timer).
pub(crate) async fn within<F: std::future::Future>(
    limit: std::time::Duration,
    future: F,
) -> Option<F::Output> {
    futures_lite::future::or(async { Some(future.await) }, async {
        glommio::timer::sleep(limit).await;
        None
    })
    .await
}
