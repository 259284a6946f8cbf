//! Connection and server commands: PING, ECHO, AUTH, QUIT, INFO, CLIENT, CONFIG, COMMAND, TIME.

use std::fmt::Write as _;

use super::args::text;
use super::{Command, Keys, COMMANDS, DENYOOM, NOAUTH, PUBSUB, READONLY, WRITE};
use crate::config::{parse_memory, EvictionPolicy};
use crate::error::KvError;
use crate::glob::glob_match;
use crate::resp::Reply;
use crate::session::{Outcome, Session};
use crate::store::{ClientInfo, Ctx, Store};

type Res = Result<Reply, KvError>;

/// The version INFO reports (what clients feature-detect against).
pub(crate) const REDIS_VERSION: &str = "7.0.15";

pub(super) fn ping(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() > 2 {
        return Err(KvError::WrongArity("ping".into()));
    }
    if ctx.session.subscriptions() > 0 {
        let payload = args.get(1).cloned().unwrap_or_default();
        return Ok(Reply::array(vec![
            Reply::bulk("pong"),
            Reply::bulk(payload),
        ]));
    }
    Ok(match args.get(1) {
        Some(payload) => Reply::bulk(payload.clone()),
        None => Reply::Simple("PONG".into()),
    })
}

pub(super) fn echo(_ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::bulk(args[1].clone()))
}

/// Compares without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn auth(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (user, pass) = match args {
        [_, pass] => (None, pass),
        [_, user, pass] => (Some(user.as_slice()), pass),
        _ => return Err(KvError::Syntax),
    };
    let required = ctx
        .store
        .requirepass
        .read()
        .map(|p| p.clone())
        .unwrap_or_default();
    let default_user = user.map_or(true, |u| u == b"default");
    let ok = match required {
        None if user.is_none() => {
            return Err(KvError::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        None => default_user,
        Some(required) => default_user && same_secret(pass, required.as_bytes()),
    };
    if !ok {
        return Err(KvError::WrongPass);
    }
    ctx.session.authenticated = true;
    Ok(Reply::ok())
}

pub(super) fn quit(_store: &Store, _session: &mut Session, _args: &[Vec<u8>]) -> Outcome {
    Outcome::Close(Reply::ok())
}

/// Bytes the way Redis prints `*_human` fields.
fn human_bytes(n: u64) -> String {
    let n = n as f64;
    let units = [
        (1024f64.powi(3), "G"),
        (1024f64.powi(2), "M"),
        (1024.0, "K"),
    ];
    for (size, unit) in units {
        if n >= size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{n}B")
}

const SECTIONS: [&str; 6] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "keyspace",
];

fn info_section(ctx: &Ctx<'_, '_>, section: &str, out: &mut String) {
    let store = ctx.store;
    let stats = store.stats_from(ctx.guards());
    let _ = match section {
        "server" => {
            let uptime = ctx.now.saturating_sub(store.started_ms) / 1000;
            write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\n\
                 os:{} {}\r\narch_bits:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\nexecutable:ephpm\r\n",
                std::env::consts::OS,
                std::env::consts::ARCH,
                usize::BITS,
                std::process::id(),
                uptime / 86_400
            )
        }
        "clients" => write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nblocked_clients:0\r\n",
            stats.connected_clients
        ),
        "memory" => {
            let max = store.maxmemory();
            write!(
                out,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nmaxmemory:{max}\r\n\
                 maxmemory_human:{}\r\nmaxmemory_policy:{}\r\ncompressed_strings:{}\r\n",
                human_bytes(stats.used_memory as u64),
                human_bytes(max),
                store.eviction_policy(),
                stats.compressed_strings,
                used = stats.used_memory,
            )
        }
        "persistence" => write!(out, "# Persistence\r\n{}", store.persistence_info()),
        "stats" => write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
             expired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n\
             pubsub_channels:{}\r\npubsub_patterns:{}\r\n",
            stats.total_connections_received,
            stats.total_commands_processed,
            stats.expired_keys,
            stats.evicted_keys,
            stats.keyspace_hits,
            stats.keyspace_misses,
            store.pubsub.channels(None).len(),
            store.pubsub.numpat(),
        ),
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for (db, d) in stats.dbs.iter().enumerate().filter(|(_, d)| d.keys > 0) {
                let _ = write!(
                    out,
                    "db{db}:keys={},expires={},avg_ttl=0\r\n",
                    d.keys, d.expires
                );
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

pub(super) fn info(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let requested: Vec<String> = args[1..]
        .iter()
        .map(|a| text(a).to_ascii_lowercase())
        .collect();
    let everything = requested.is_empty()
        || requested
            .iter()
            .any(|s| matches!(s.as_str(), "all" | "default" | "everything"));
    let mut out = String::new();
    for section in SECTIONS {
        if everything || requested.iter().any(|s| s == section) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            info_section(ctx, section, &mut out);
        }
    }
    Ok(Reply::bulk(out))
}

/// One CLIENT LIST/INFO line.
fn client_line(id: u64, c: &ClientInfo, now: u64, multi: i64) -> String {
    let age = now.saturating_sub(c.created_ms) / 1000;
    let name = c
        .name
        .as_deref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    format!(
        "id={id} addr={} laddr= fd=-1 name={name} age={age} idle=0 flags=N db={} sub={} \
         psub={} ssub=0 multi={multi} user=default resp=2\n",
        c.addr, c.db, c.sub, c.psub
    )
}

fn sub_arity(args: &[Vec<u8>], cmd: &str, ok: bool) -> Result<(), KvError> {
    if ok {
        Ok(())
    } else {
        Err(KvError::WrongArity(format!(
            "{cmd}|{}",
            text(&args[1]).to_ascii_lowercase()
        )))
    }
}

fn unknown_subcommand(args: &[Vec<u8>], cmd: &str) -> KvError {
    KvError::err(format!(
        "unknown subcommand '{}'. Try {cmd} HELP.",
        text(&args[1])
    ))
}

pub(super) fn client(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let sub = text(&args[1]).to_ascii_lowercase();
    let session = &mut *ctx.session;
    match sub.as_str() {
        "id" => {
            sub_arity(args, "client", args.len() == 2)?;
            Ok(Reply::Integer(session.id as i64))
        }
        "getname" => {
            sub_arity(args, "client", args.len() == 2)?;
            Ok(Reply::Bulk(session.name.clone()))
        }
        "setname" => {
            sub_arity(args, "client", args.len() == 3)?;
            let name = &args[2];
            if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return Err(KvError::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            session.name = (!name.is_empty()).then(|| name.clone());
            ctx.store.update_client(ctx.session);
            Ok(Reply::ok())
        }
        "setinfo" => {
            sub_arity(args, "client", args.len() == 4)?;
            Ok(Reply::ok())
        }
        "info" => {
            let info = ClientInfo {
                addr: session.addr.clone(),
                name: session.name.clone(),
                db: session.db,
                created_ms: session.created_ms,
                sub: session.channels.len(),
                psub: session.patterns.len(),
            };
            let multi = session.multi.as_ref().map_or(-1, |m| m.queue.len() as i64);
            Ok(Reply::bulk(client_line(session.id, &info, ctx.now, multi)))
        }
        "list" => {
            let mut out = String::new();
            for (id, c) in ctx.store.client_list() {
                out.push_str(&client_line(id, &c, ctx.now, -1));
            }
            Ok(Reply::bulk(out))
        }
        _ => Err(unknown_subcommand(args, "CLIENT")),
    }
}

/// Parameters CONFIG GET knows, with their current values. `requirepass` is not one of
/// them: the password comes from ePHPm's configuration and is never shown over the wire.
fn config_params(store: &Store) -> Vec<(&'static str, String)> {
    vec![
        ("maxmemory", store.maxmemory().to_string()),
        ("maxmemory-policy", store.eviction_policy().to_string()),
        ("maxmemory-samples", "5".into()),
        ("databases", store.databases.to_string()),
        ("save", String::new()),
        (
            "appendonly",
            if store.aof_enabled() { "yes" } else { "no" }.into(),
        ),
        ("proto-max-bulk-len", store.limits.max_bulk_len.to_string()),
    ]
}

fn config_failed(name: &str, why: &str) -> KvError {
    KvError::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

fn config_set_one(store: &Store, name: &str, value: &[u8]) -> Result<(), KvError> {
    let value = text(value);
    match name {
        "maxmemory" => {
            let bytes = parse_memory(&value)
                .ok_or_else(|| config_failed(name, "argument must be a memory value"))?;
            store.set_maxmemory(bytes);
        }
        "maxmemory-policy" => {
            let policy: EvictionPolicy = value.parse().map_err(|_| {
                config_failed(
                    name,
                    "argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-random, allkeys-random, volatile-ttl, noeviction",
                )
            })?;
            store.set_eviction_policy(policy);
        }
        // The password protects a listener that may be public: only the configuration file
        // sets it, so a client that got in can't remove or change it.
        "requirepass" => return Err(config_failed(name, "can't set protected config")),
        "save" | "maxmemory-samples" => {}
        "appendonly" if value.eq_ignore_ascii_case("no") => {}
        "appendonly" => return Err(config_failed(name, "persistence is not supported")),
        "databases" | "proto-max-bulk-len" => {
            return Err(config_failed(name, "can't set immutable config"))
        }
        _ => {
            return Err(KvError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            )))
        }
    }
    Ok(())
}

pub(super) fn config(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let sub = text(&args[1]).to_ascii_lowercase();
    let store = ctx.store;
    match sub.as_str() {
        "get" => {
            sub_arity(args, "config", args.len() >= 3)?;
            let mut out = Vec::new();
            for (name, value) in config_params(store) {
                if args[2..]
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), name.as_bytes()))
                {
                    out.push(Reply::bulk(name));
                    out.push(Reply::bulk(value));
                }
            }
            Ok(Reply::array(out))
        }
        "set" => {
            sub_arity(args, "config", args.len() >= 4 && args.len() % 2 == 0)?;
            for pair in args[2..].chunks(2) {
                config_set_one(store, &text(&pair[0]).to_ascii_lowercase(), &pair[1])?;
            }
            Ok(Reply::ok())
        }
        "rewrite" => Err(KvError::err("The server is running without a config file")),
        _ => Err(unknown_subcommand(args, "CONFIG")),
    }
}

fn flag_names(flags: u8) -> Vec<Reply> {
    [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (PUBSUB, "pubsub"),
        (NOAUTH, "no-auth"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, name)| Reply::Simple(name.into()))
    .collect()
}

fn command_info(c: &Command) -> Reply {
    let (first, last, step) = match c.keys {
        Keys::Range(first, last, step) => (first, last, step),
        _ => (0, 0, 0),
    };
    Reply::array(vec![
        Reply::bulk(c.name),
        Reply::Integer(i64::from(c.arity)),
        Reply::array(flag_names(c.flags)),
        Reply::Integer(i64::from(first)),
        Reply::Integer(i64::from(last)),
        Reply::Integer(i64::from(step)),
        Reply::array(vec![]),
    ])
}

pub(super) fn command(_ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let Some(sub) = args.get(1) else {
        return Ok(Reply::array(COMMANDS.iter().map(command_info).collect()));
    };
    let sub = text(sub).to_ascii_lowercase();
    match sub.as_str() {
        "count" => Ok(Reply::Integer(COMMANDS.len() as i64)),
        "docs" => Ok(Reply::array(vec![])),
        "list" => Ok(Reply::bulks(COMMANDS.iter().map(|c| c.name))),
        "info" => Ok(Reply::array(
            args[2..]
                .iter()
                .map(|name| super::lookup(name).map_or(Reply::nil(), command_info))
                .collect(),
        )),
        _ => Err(unknown_subcommand(args, "COMMAND")),
    }
}

pub(super) fn time(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    let now = ctx.store.now_ms();
    Ok(Reply::bulks([
        (now / 1000).to_string(),
        ((now % 1000) * 1000).to_string(),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(2048), "2.00K");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.00M");
    }

    #[test]
    fn flags_are_named() {
        assert_eq!(flag_names(WRITE | DENYOOM).len(), 2);
    }
}
