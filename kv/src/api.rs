//! The typed API for in-process callers (PHP functions on PHP threads): no RESP, no session,
//! the same internal functions the commands use. Every call is atomic and takes only the shard
//! locks of the keys it names. Writes honour maxmemory like client writes.

use std::time::Duration;

use crate::cmd::{self, SetOptions};
use crate::error::KvError;
use crate::resp::Reply;
use crate::session::Session;
use crate::store::{Ctx, LockEach, Store};

/// A hash's field/value pairs.
pub type FieldValues = Vec<(Vec<u8>, Vec<u8>)>;

/// A key's remaining lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists without a TTL.
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

impl Store {
    /// Runs `f` with the shards of `keys` locked, as an authenticated session on `db`.
    fn with_keys<R>(
        &self,
        db: usize,
        keys: &[&[u8]],
        grows: bool,
        f: impl FnOnce(&mut Ctx<'_, '_>) -> Result<R, KvError>,
    ) -> Result<R, KvError> {
        if db >= self.databases {
            return Err(KvError::DbIndex);
        }
        if grows {
            self.ensure_memory(&mut LockEach(self))?;
        }
        let mut session = Session::internal(db);
        let guards = self.lock_keys(keys.iter().copied());
        let mut ctx = Ctx::new(self, &mut session, guards, true);
        let result = f(&mut ctx);
        let committed = ctx.commit();
        result.and_then(|r| committed.map(|()| r))
    }

    /// GET.
    pub fn get(&self, db: usize, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| cmd::strings::get_value(ctx, key))
    }

    /// SET, with an optional TTL (a zero TTL is an invalid expire time, as in Redis).
    pub fn set(
        &self,
        db: usize,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let expire_at = match ttl {
                None => None,
                Some(ttl) if ttl.is_zero() => return Err(KvError::InvalidExpire("set".into())),
                Some(ttl) => Some(ctx.now.saturating_add(ttl.as_millis() as u64)),
            };
            let opts = SetOptions {
                expire_at,
                ..SetOptions::default()
            };
            cmd::strings::set_value(ctx, key, value.to_vec(), &opts)?;
            log(ctx, "set", &[key, value]);
            Ok(())
        })
    }

    /// DEL: how many of `keys` existed.
    pub fn del(&self, db: usize, keys: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, keys, false, |ctx| {
            let n = cmd::keys::delete(ctx, keys);
            log(ctx, "del", keys);
            Ok(n)
        })
    }

    /// EXISTS.
    pub fn exists(&self, db: usize, key: &[u8]) -> Result<bool, KvError> {
        self.with_keys(db, &[key], false, |ctx| Ok(ctx.exists(key)))
    }

    /// INCRBY: the new value.
    pub fn incr_by(&self, db: usize, key: &[u8], delta: i64) -> Result<i64, KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let n = cmd::strings::incr_by(ctx, key, delta)?;
            log(ctx, "incrby", &[key, delta.to_string().as_bytes()]);
            Ok(n)
        })
    }

    /// EXPIRE (PEXPIRE precision): false when the key does not exist. Zero deletes the key.
    pub fn expire(&self, db: usize, key: &[u8], ttl: Duration) -> Result<bool, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let at = (ctx.now as i64).saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
            let done = cmd::keys::expire_key(ctx, key, at, cmd::keys::Cond::Always);
            log(ctx, "pexpireat", &[key, at.to_string().as_bytes()]);
            Ok(done)
        })
    }

    /// TTL (millisecond precision).
    pub fn ttl(&self, db: usize, key: &[u8]) -> Result<Ttl, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            Ok(match cmd::keys::ttl_ms(ctx, key) {
                -2 => Ttl::Missing,
                -1 => Ttl::Persistent,
                ms => Ttl::Expires(Duration::from_millis(ms as u64)),
            })
        })
    }

    /// HGET.
    pub fn hget(&self, db: usize, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            cmd::hashes::hash_get(ctx, key, field)
        })
    }

    /// HSET of one field: true when the field is new.
    pub fn hset(&self, db: usize, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool, KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let n = cmd::hashes::hash_set(ctx, key, &[(field, value)])?;
            log(ctx, "hset", &[key, field, value]);
            Ok(n == 1)
        })
    }

    /// HGETALL as field/value pairs.
    pub fn hgetall(&self, db: usize, key: &[u8]) -> Result<FieldValues, KvError> {
        self.with_keys(db, &[key], false, |ctx| cmd::hashes::hash_all(ctx, key))
    }

    /// HDEL: how many fields existed.
    pub fn hdel(&self, db: usize, key: &[u8], fields: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let n = cmd::hashes::hash_del(ctx, key, fields)?;
            log(ctx, "hdel", &[&[key][..], fields].concat());
            Ok(n)
        })
    }

    /// LPUSH: the new length.
    pub fn lpush(&self, db: usize, key: &[u8], values: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let n = cmd::lists::push(ctx, key, values, true, false)?;
            log(ctx, "lpush", &[&[key][..], values].concat());
            Ok(n)
        })
    }

    /// RPUSH: the new length.
    pub fn rpush(&self, db: usize, key: &[u8], values: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let n = cmd::lists::push(ctx, key, values, false, false)?;
            log(ctx, "rpush", &[&[key][..], values].concat());
            Ok(n)
        })
    }

    /// LPOP of one element.
    pub fn lpop(&self, db: usize, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let popped = cmd::lists::pop(ctx, key, true, 1)?.and_then(|mut v| v.pop());
            log(ctx, "lpop", &[key]);
            Ok(popped)
        })
    }

    /// RPOP of one element.
    pub fn rpop(&self, db: usize, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let popped = cmd::lists::pop(ctx, key, false, 1)?.and_then(|mut v| v.pop());
            log(ctx, "rpop", &[key]);
            Ok(popped)
        })
    }

    /// LRANGE (Redis indexes: negative from the end, inclusive).
    pub fn lrange(
        &self,
        db: usize,
        key: &[u8],
        start: i64,
        stop: i64,
    ) -> Result<Vec<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            cmd::lists::range(ctx, key, start, stop)
        })
    }

    /// SADD: how many members are new.
    pub fn sadd(&self, db: usize, key: &[u8], members: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], true, |ctx| {
            let n = cmd::sets::add(ctx, key, members)?;
            log(ctx, "sadd", &[&[key][..], members].concat());
            Ok(n)
        })
    }

    /// SREM: how many members were there.
    pub fn srem(&self, db: usize, key: &[u8], members: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let n = cmd::sets::remove(ctx, key, members)?;
            log(ctx, "srem", &[&[key][..], members].concat());
            Ok(n)
        })
    }

    /// SMEMBERS (in no particular order).
    pub fn smembers(&self, db: usize, key: &[u8]) -> Result<Vec<Vec<u8>>, KvError> {
        self.with_keys(db, &[key], false, |ctx| cmd::sets::members(ctx, key))
    }

    /// SISMEMBER.
    pub fn sismember(&self, db: usize, key: &[u8], member: &[u8]) -> Result<bool, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            cmd::sets::is_member(ctx, key, member)
        })
    }

    /// ZADD of (score, member) pairs: how many members are new.
    pub fn zadd(&self, db: usize, key: &[u8], pairs: &[(f64, &[u8])]) -> Result<usize, KvError> {
        if pairs.iter().any(|(s, _)| s.is_nan()) {
            return Err(KvError::NotFloat);
        }
        self.with_keys(db, &[key], true, |ctx| {
            let added = cmd::zsets::zadd_pairs(ctx, key, pairs, Default::default())?.added;
            let mut args = vec![b"zadd".to_vec(), key.to_vec()];
            for (score, member) in pairs {
                args.push(crate::numbers::format_double(*score).into_bytes());
                args.push(member.to_vec());
            }
            crate::persist::record_command(ctx, "zadd", &args, &Reply::ok());
            Ok(added)
        })
    }

    /// ZRANGE by rank with scores.
    pub fn zrange(
        &self,
        db: usize,
        key: &[u8],
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            cmd::zsets::range_by_rank(ctx, key, start, stop)
        })
    }

    /// ZSCORE.
    pub fn zscore(&self, db: usize, key: &[u8], member: &[u8]) -> Result<Option<f64>, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            cmd::zsets::score_of(ctx, key, member)
        })
    }

    /// ZREM: how many members were there.
    pub fn zrem(&self, db: usize, key: &[u8], members: &[&[u8]]) -> Result<usize, KvError> {
        self.with_keys(db, &[key], false, |ctx| {
            let n = cmd::zsets::zrem_members(ctx, key, members)?;
            log(ctx, "zrem", &[&[key][..], members].concat());
            Ok(n)
        })
    }

    /// FLUSHALL.
    pub fn flush_all(&self) {
        let mut session = Session::internal(0);
        let mut ctx = Ctx::new(self, &mut session, self.lock_all(), true);
        cmd::keys::flush_all(&mut ctx);
        log(&mut ctx, "flushall", &[]);
        ctx.finish();
    }
}

/// Logs a typed-API write as the equivalent command `name parts...` (rewritten like client
/// commands, so relative TTLs become absolute).
fn log(ctx: &mut Ctx<'_, '_>, name: &str, parts: &[&[u8]]) {
    if ctx.store.logs_writes() {
        let mut args = vec![name.as_bytes().to_vec()];
        args.extend(parts.iter().map(|p| p.to_vec()));
        crate::persist::record_command(ctx, name, &args, &Reply::ok());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::StoreConfig;

    #[test]
    fn typed_api_round_trips() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let store = Store::with_clock(StoreConfig::default(), clock.clone());
        store
            .set(0, b"k", b"v", Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(store.get(0, b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(store.get(1, b"k").unwrap(), None);
        assert_eq!(
            store.ttl(0, b"k").unwrap(),
            Ttl::Expires(Duration::from_secs(10))
        );
        clock.advance(10_001);
        assert_eq!(store.get(0, b"k").unwrap(), None);
        assert_eq!(store.ttl(0, b"k").unwrap(), Ttl::Missing);
        assert_eq!(store.get(16, b"k"), Err(KvError::DbIndex));

        assert_eq!(store.incr_by(0, b"n", 5).unwrap(), 5);
        assert_eq!(store.incr_by(0, b"n", -7).unwrap(), -2);
        assert!(store.expire(0, b"n", Duration::from_secs(1)).unwrap());
        assert!(!store.expire(0, b"missing", Duration::from_secs(1)).unwrap());

        assert!(store.hset(0, b"h", b"f", b"1").unwrap());
        assert!(!store.hset(0, b"h", b"f", b"2").unwrap());
        assert_eq!(store.hget(0, b"h", b"f").unwrap(), Some(b"2".to_vec()));
        assert_eq!(store.hgetall(0, b"h").unwrap().len(), 1);
        assert_eq!(store.hdel(0, b"h", &[b"f", b"g"]).unwrap(), 1);
        assert!(!store.exists(0, b"h").unwrap());

        assert_eq!(store.rpush(0, b"l", &[b"a", b"b"]).unwrap(), 2);
        assert_eq!(store.lpush(0, b"l", &[b"z"]).unwrap(), 3);
        assert_eq!(
            store.lrange(0, b"l", 0, -1).unwrap(),
            vec![b"z".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(store.lpop(0, b"l").unwrap(), Some(b"z".to_vec()));
        assert_eq!(store.rpop(0, b"l").unwrap(), Some(b"b".to_vec()));

        assert_eq!(store.sadd(0, b"s", &[b"x", b"y", b"x"]).unwrap(), 2);
        assert!(store.sismember(0, b"s", b"y").unwrap());
        assert_eq!(store.srem(0, b"s", &[b"y"]).unwrap(), 1);
        assert_eq!(store.smembers(0, b"s").unwrap(), vec![b"x".to_vec()]);

        assert_eq!(store.zadd(0, b"z", &[(2.0, b"b"), (1.0, b"a")]).unwrap(), 2);
        assert_eq!(store.zscore(0, b"z", b"b").unwrap(), Some(2.0));
        assert_eq!(
            store.zrange(0, b"z", 0, -1).unwrap(),
            vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)]
        );
        assert_eq!(store.zrem(0, b"z", &[b"a"]).unwrap(), 1);

        assert_eq!(store.get(0, b"s"), Err(KvError::WrongType));
        assert_eq!(store.del(0, &[b"s", b"z", b"nope"]).unwrap(), 2);
        store.flush_all();
        assert_eq!(store.used_memory(), 0);
    }
}
