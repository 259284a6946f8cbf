//! The errors commands answer, worded exactly as Redis 7 words them.

use thiserror::Error;

use crate::resp::Reply;

/// A command failure. `Display` is the whole Redis error line (code prefix included), so
/// `Reply::Error(err.to_string())` is what a Redis server would send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KvError {
    /// The key holds another type than the command works on.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// An argument or stored value is not a 64-bit integer.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument or stored value is not a float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// Options that do not parse.
    #[error("ERR syntax error")]
    Syntax,
    /// INCR/DECR family overflow.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// The key the command needs does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A reply the command would generate (not stored data) is over
    /// [`crate::Limits::max_reply_bytes`].
    #[error("ERR reply would be larger than the reply limit ({0} bytes)")]
    ReplyTooLarge(usize),
    /// A list index outside the list.
    #[error("ERR index out of range")]
    IndexOutOfRange,
    /// Over `maxmemory` with nothing evictable (or `noeviction`).
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// Arity error; holds the lower-case command name (`config|get` for subcommands).
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// A TTL that is not positive or overflows; holds the lower-case command name.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    /// SELECT/SWAPDB or an API call with a database outside `0..databases`.
    #[error("ERR DB index is out of range")]
    DbIndex,
    /// INCRBYFLOAT/HINCRBYFLOAT whose result is not finite.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// A string grown past the protocol's maximum bulk length.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooBig,
    /// A command before AUTH while `requirepass` is set.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// AUTH with a wrong password.
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    /// Any other error; the whole line, code prefix included (`ERR ...`).
    #[error("{0}")]
    Other(String),
}

impl KvError {
    /// An `ERR <message>` error.
    pub fn err(message: impl std::fmt::Display) -> KvError {
        KvError::Other(format!("ERR {message}"))
    }

    /// The error as a RESP reply.
    pub fn to_reply(&self) -> Reply {
        Reply::Error(self.to_string())
    }
}

impl From<KvError> for Reply {
    fn from(err: KvError) -> Reply {
        err.to_reply()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_redis() {
        assert_eq!(
            KvError::WrongArity("get".into()).to_string(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            KvError::err("syntax error"),
            KvError::Other("ERR syntax error".into())
        );
        assert_eq!(
            KvError::Oom.to_reply(),
            Reply::Error("OOM command not allowed when used memory > 'maxmemory'.".into())
        );
    }
}
