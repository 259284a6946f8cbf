//! The built-in Redis-compatible store ([`kv`] crate), wired into the server: one shared
//! [`Store`], a RESP2 listener on every core, the `ephpm_kv_*` PHP functions and the `ephpm`
//! session save handler, and the expiry sweeper.

mod connection;
mod functions;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_lite::future;
use glommio::net::TcpListener;
use kv::{Compression, PersistenceConfig, Store, StoreConfig};

use crate::config::KvConfig;
use crate::server::core::CoreContext;
use crate::server::limit::ConnectionLimit;
use crate::server::shutdown::StopFlag;

pub(crate) use functions::host_functions;

/// How often the sweeper reclaims expired keys, and how many it examines each time.
const SWEEP_INTERVAL: Duration = Duration::from_millis(100);
/// See [`SWEEP_INTERVAL`].
const SWEEP_BUDGET: usize = 512;
/// How often the persistence thread fsyncs (`everysec`) and checks for due snapshots.
const PERSISTENCE_INTERVAL: Duration = Duration::from_secs(1);

/// Opens the store described by `[kv]`, loading its data from disk when persistence is on.
pub(crate) fn open_store(config: &KvConfig) -> anyhow::Result<Arc<Store>> {
    let eviction = config
        .maxmemory_policy
        .parse()
        .context("kv.maxmemory_policy")?;
    let store_config = StoreConfig {
        maxmemory: config.maxmemory.0,
        eviction,
        requirepass: (!config.password.is_empty()).then(|| config.password.clone()),
        compression: config.compression.then(|| Compression {
            min_size: usize::try_from(config.compression_min_size.0).unwrap_or(usize::MAX),
            ..Compression::default()
        }),
        ..StoreConfig::default()
    };
    let persistence = config
        .persistence
        .then(|| persistence_config(config))
        .transpose()?;
    let store = Store::open(store_config, persistence).with_context(|| {
        format!(
            "opening the KV store's data in {}",
            config.data_dir.display()
        )
    })?;
    if config.persistence {
        log::info!(
            "kv: persistence in {} (appendonly {}, appendfsync {}), {} key(s) loaded",
            config.data_dir.display(),
            config.appendonly,
            config.appendfsync,
            store.stats().dbs.iter().map(|db| db.keys).sum::<usize>()
        );
    }
    Ok(Arc::new(store))
}

fn persistence_config(config: &KvConfig) -> anyhow::Result<PersistenceConfig> {
    let interval = config.snapshot_interval.0;
    Ok(PersistenceConfig {
        appendonly: config.appendonly,
        appendfsync: config.appendfsync.parse().context("kv.appendfsync")?,
        snapshot_interval: (!interval.is_zero()).then_some(interval),
        ..PersistenceConfig::new(&config.data_dir)
    })
}

/// Writes the final snapshot at shutdown (a no-op without persistence).
pub(crate) fn save_at_shutdown(store: &Store) {
    if let Err(err) = store.save() {
        log::error!("kv: the final snapshot failed: {err}");
    }
}

/// Binds this core's RESP listener (`SO_REUSEPORT`, like the HTTP one).
pub(crate) fn bind(config: &KvConfig) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.listen).map_err(|err| {
        anyhow::anyhow!(
            "binding the KV listener to {} (change kv.listen, or set kv.enabled = false if a \
             Redis server owns it): {err}",
            config.listen
        )
    })
}

/// Accepts Redis clients on `listener` until shutdown, serving each on this core. A client
/// over `limit` is answered Redis's "max number of clients reached" error and closed.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    store: Arc<Store>,
    core: Rc<CoreContext>,
    limit: ConnectionLimit,
) {
    while let Some(stream) = crate::server::core::accept(&listener, &core.shutdown).await {
        if let Err(err) = stream.set_write_timeout(Some(core.send_timeout)) {
            log::debug!("KV connection dropped: {err}");
            continue;
        }
        let store = Arc::clone(&store);
        let core_for_task = Rc::clone(&core);
        let permit = limit.try_acquire();
        crate::server::core::spawn_contained("KV", async move {
            let Some(_permit) = permit else {
                refuse(stream).await;
                return;
            };
            if let Err(err) = connection::serve(stream, &store, &core_for_task.shutdown).await {
                log::debug!("KV connection ended: {err}");
            }
        });
    }
}

/// Tells a client over `max_connections` so, like Redis, and closes it.
async fn refuse(mut stream: glommio::net::TcpStream) {
    use futures_lite::AsyncWriteExt as _;
    let _ = stream.write_all(connection::MAX_CLIENTS_REPLY).await;
    let _ = stream.close().await;
}

/// Reclaims expired keys on a timer until shutdown (run on one core). Sweeping locks shards,
/// which a running script holds for up to its time limit, so it runs on the executor's
/// blocking thread: the core goes on serving meanwhile.
pub(crate) async fn sweep_periodically(store: Arc<Store>, core: Rc<CoreContext>) {
    while !core.shutdown.is_triggered() {
        future::or(glommio::timer::sleep(SWEEP_INTERVAL), core.shutdown.wait()).await;
        let store = Arc::clone(&store);
        glommio::executor()
            .spawn_blocking(move || {
                let swept = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.sweep_expired(SWEEP_BUDGET);
                }));
                if swept.is_err() {
                    log::error!("kv: the expiry sweep panicked");
                }
            })
            .await;
    }
}

/// Runs persistence (fsync for `everysec`, timed and requested snapshots) once a second on a
/// thread of its own, since snapshots block on disk I/O, until `stop` is set.
pub(crate) fn start_persistence(
    store: Arc<Store>,
    stop: StopFlag,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kv-persist".into())
        .spawn(move || {
            while !stop.is_set() {
                std::thread::sleep(PERSISTENCE_INTERVAL);
                if let Err(err) = store.persistence_tick() {
                    log::error!("kv: persistence: {err}");
                }
            }
        })
        .context("starting the KV persistence thread")
}
