//! Conversions between Redis replies and Lua values, exactly as Redis documents them.
//!
//! Redis to Lua: integer -> number, bulk -> string, nil bulk / nil array -> `false`, array ->
//! table (nested), status -> `{ok=...}`, error -> `{err=...}`.
//!
//! Lua to Redis: number -> integer (truncated), string -> bulk, table -> array up to the first
//! nil (or status / error for `{ok=...}` / `{err=...}`), `true` -> 1, `false` and nil -> nil.

use mlua::{Lua, MultiValue, Table, Value};

use crate::error::KvError;
use crate::resp::{Reply, REPLY_OVERHEAD};

/// Deepest table nesting converted either way (tables can refer to themselves).
const MAX_DEPTH: usize = 1000;

/// A Redis reply as a Lua value.
pub(super) fn reply_to_lua(lua: &Lua, reply: &Reply) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Integer(n) => Value::Integer(*n),
        Reply::Bulk(Some(data)) => Value::String(lua.create_string(data)?),
        Reply::Bulk(None) | Reply::Array(None) => Value::Boolean(false),
        Reply::Simple(s) => Value::Table(single_field(lua, "ok", s.as_bytes())?),
        Reply::Error(s) => Value::Table(single_field(lua, "err", s.as_bytes())?),
        Reply::Array(Some(items)) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, reply_to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
    })
}

/// `{field=text}`: how status and error replies look in Lua.
pub(super) fn single_field(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(field, lua.create_string(text)?)?;
    Ok(table)
}

/// A Lua value (a script's result) as a Redis reply of at most `budget` encoded bytes.
///
/// Tables may refer to themselves (`t[1] = t; t[2] = t`), which would expand exponentially:
/// nesting stops at [`MAX_DEPTH`] and the whole conversion at the budget, answering an error.
pub(super) fn lua_to_reply(value: &Value, budget: usize) -> Reply {
    let mut left = budget;
    to_reply(value, 0, &mut left).unwrap_or_else(|| KvError::ReplyTooLarge(budget).to_reply())
}

/// Takes `cost` bytes from the budget; false when it is spent.
fn spend(left: &mut usize, cost: usize) -> bool {
    match left.checked_sub(cost) {
        Some(rest) => {
            *left = rest;
            true
        }
        None => false,
    }
}

fn to_reply(value: &Value, depth: usize, left: &mut usize) -> Option<Reply> {
    let size = match value {
        Value::String(s) => s.as_bytes().len(),
        _ => 0,
    };
    if !spend(left, size + REPLY_OVERHEAD) {
        return None;
    }
    Some(match value {
        Value::Boolean(true) => Reply::Integer(1),
        Value::Integer(n) => Reply::Integer(*n),
        // `as` truncates toward zero and saturates, like Redis's (long long) cast.
        Value::Number(n) => Reply::Integer(*n as i64),
        Value::String(s) => Reply::bulk(s.as_bytes().to_vec()),
        Value::Table(_) if depth >= MAX_DEPTH => Reply::error("ERR reached lua stack limit"),
        Value::Table(t) => table_to_reply(t, depth, left)?,
        _ => Reply::nil(),
    })
}

fn table_to_reply(table: &Table, depth: usize, left: &mut usize) -> Option<Reply> {
    if let Ok(Value::String(err)) = table.raw_get::<Value>("err") {
        return Some(Reply::Error(err.to_string_lossy()));
    }
    if let Ok(Value::String(ok)) = table.raw_get::<Value>("ok") {
        return Some(Reply::Simple(ok.to_string_lossy()));
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(item) => items.push(to_reply(&item, depth + 1, left)?),
        }
    }
    Some(Reply::array(items))
}

/// The arguments of a `redis.call`, as command arguments: strings as they are, numbers
/// printed as integers when they are whole (else in shortest form). `Err` holds the error
/// Redis raises.
pub(super) fn command_args(args: &MultiValue) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|arg| match arg {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Integer(n) => Ok(n.to_string().into_bytes()),
            Value::Number(n) => Ok(number_arg(*n).into_bytes()),
            _ => Err("ERR Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

fn number_arg(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        (n as i64).to_string()
    } else {
        format!("{n}")
    }
}

/// The error `redis.error_reply(text)` makes (Redis's `luaPushErrorBuff`): the first word is
/// the error code (a leading `-` is dropped), or `ERR` when the text is a single word.
pub(super) fn error_reply_text(text: &[u8]) -> Vec<u8> {
    let rest = text.strip_prefix(b"-").unwrap_or(text);
    let (code, mut message) = match rest.iter().position(|&b| b == b' ') {
        Some(space) => (&rest[..space], &rest[space + 1..]),
        None => (&b"ERR"[..], rest),
    };
    while let Some((last, head)) = message.split_last() {
        if *last != b'\r' && *last != b'\n' {
            break;
        }
        message = head;
    }
    [code, b" ", message].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(lua: &Lua, code: &str) -> Reply {
        let value: Value = lua.load(code).eval().expect("valid test chunk");
        lua_to_reply(&value, 1 << 20)
    }

    #[test]
    fn lua_values_to_replies() {
        let lua = Lua::new();
        assert_eq!(eval(&lua, "return 42"), Reply::Integer(42));
        assert_eq!(eval(&lua, "return 3.99"), Reply::Integer(3));
        assert_eq!(eval(&lua, "return -3.99"), Reply::Integer(-3));
        assert_eq!(eval(&lua, "return 'x'"), Reply::bulk("x"));
        assert_eq!(eval(&lua, "return true"), Reply::Integer(1));
        assert_eq!(eval(&lua, "return false"), Reply::nil());
        assert_eq!(eval(&lua, "return nil"), Reply::nil());
        assert_eq!(
            eval(&lua, "return {1, 'a', {2}, false}"),
            Reply::array(vec![
                Reply::Integer(1),
                Reply::bulk("a"),
                Reply::array(vec![Reply::Integer(2)]),
                Reply::nil(),
            ])
        );
        assert_eq!(
            eval(&lua, "return {1, 2, nil, 4}"),
            Reply::array(vec![Reply::Integer(1), Reply::Integer(2)])
        );
        assert_eq!(
            eval(&lua, "return {ok='FINE'}"),
            Reply::Simple("FINE".into())
        );
        assert_eq!(eval(&lua, "return {err='BAD x'}"), Reply::error("BAD x"));
        assert_eq!(eval(&lua, "return {foo='bar'}"), Reply::array(vec![]));
        assert_eq!(eval(&lua, "return function() end"), Reply::nil());
    }

    #[test]
    fn self_referencing_tables_stop() {
        let lua = Lua::new();
        let reply = eval(&lua, "local t = {} t[1] = t return t");
        let mut depth = 0;
        let mut cur = &reply;
        while let Reply::Array(Some(items)) = cur {
            depth += 1;
            cur = &items[0];
        }
        assert_eq!(depth, MAX_DEPTH);
        assert_eq!(*cur, Reply::error("ERR reached lua stack limit"));
    }

    #[test]
    fn exponential_tables_stop_at_the_budget() {
        let lua = Lua::new();
        let started = std::time::Instant::now();
        let reply = eval(&lua, "local t = {} t[1] = t t[2] = t return t");
        assert_eq!(
            reply,
            Reply::error("ERR reply would be larger than the reply limit (1048576 bytes)")
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let big = eval(
            &lua,
            "local t = {} for i = 1, 100000 do t[i] = 'xxxxxxxxxx' end return t",
        );
        assert!(matches!(big, Reply::Error(_)));
        let fits = eval(
            &lua,
            "local t = {} for i = 1, 1000 do t[i] = 'xxxxxxxxxx' end return t",
        );
        assert!(matches!(fits, Reply::Array(Some(items)) if items.len() == 1000));
    }

    #[test]
    fn replies_to_lua_values() {
        let lua = Lua::new();
        let check = lua
            .load(
                "return function(v, kind)
                    if kind == 'int' then return v == 7 end
                    if kind == 'bulk' then return v == 'hi' end
                    if kind == 'nil' then return v == false end
                    if kind == 'status' then return v.ok == 'OK' end
                    if kind == 'error' then return v.err == 'ERR no' end
                    if kind == 'array' then return #v == 2 and v[1] == 1 and v[2][1] == 'x' end
                end",
            )
            .eval::<mlua::Function>()
            .expect("valid checker");
        let cases = [
            (Reply::Integer(7), "int"),
            (Reply::bulk("hi"), "bulk"),
            (Reply::nil(), "nil"),
            (Reply::Array(None), "nil"),
            (Reply::ok(), "status"),
            (Reply::error("ERR no"), "error"),
            (
                Reply::array(vec![Reply::Integer(1), Reply::bulks(["x"])]),
                "array",
            ),
        ];
        for (reply, kind) in cases {
            let value = reply_to_lua(&lua, &reply).expect("convertible");
            assert!(check.call::<bool>((value, kind)).expect("ran"), "{kind}");
        }
    }

    #[test]
    fn command_args_accept_strings_and_numbers() {
        let lua = Lua::new();
        let args: MultiValue = lua
            .load("return 'set', 10, 1.5, 2^53")
            .eval()
            .expect("valid");
        assert_eq!(
            command_args(&args).expect("valid args"),
            vec![
                b"set".to_vec(),
                b"10".to_vec(),
                b"1.5".to_vec(),
                b"9007199254740992".to_vec()
            ]
        );
        let bad: MultiValue = lua.load("return 'get', {}").eval().expect("valid");
        assert_eq!(
            command_args(&bad),
            Err("ERR Lua redis lib command arguments must be strings or integers")
        );
        assert!(command_args(&MultiValue::new()).is_err());
    }

    #[test]
    fn errors_are_normalized_like_redis() {
        assert_eq!(error_reply_text(b"boom"), b"ERR boom");
        assert_eq!(error_reply_text(b"My Error"), b"My Error");
        assert_eq!(error_reply_text(b"-MY error\r\n"), b"MY error");
        assert_eq!(error_reply_text(b"-boom"), b"ERR boom");
    }
}
