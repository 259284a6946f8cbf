//! `cjson.encode` / `cjson.decode`, behaving like the lua-cjson 2.1 that Redis embeds: numbers
//! printed with `%.14g`, `/` escaped, empty tables encoded as `{}`, tables whose keys are all
//! positive integers encoded as arrays (holes as `null`, excessively sparse ones refused),
//! `null` decoded to the `cjson.null` sentinel, nesting limited to 1000 both ways, and the
//! same error messages.

use mlua::{Lua, Table, Value};

/// Deepest nesting encoded or decoded, lua-cjson's default.
const MAX_DEPTH: usize = 1000;
/// lua-cjson's `encode_sparse_ratio` / `encode_sparse_safe` defaults.
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

/// `cjson.null`: a NULL light userdata, as in lua-cjson.
pub(super) fn null() -> Value {
    Value::NULL
}

/// JSON text for `value`, or lua-cjson's error message.
pub(super) fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_value(&mut out, value, 0)?;
    Ok(out)
}

fn encode_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => encode_number(out, *n as f64)?,
        Value::Number(n) => encode_number(out, *n)?,
        Value::String(s) => encode_string(out, &s.as_bytes()),
        Value::Table(t) => encode_table(out, t, depth + 1)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(format_g14(n).as_bytes());
    Ok(())
}

fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_table(out: &mut Vec<u8>, table: &Table, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    match array_length(table)? {
        Some(len) => encode_array(out, table, len, depth),
        None => encode_object(out, table, depth),
    }
}

/// lua-cjson's `lua_array_length`: `Some(max index)` when every key is an integer >= 1 and
/// the table is not empty, `None` for an object.
fn array_length(table: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let index = match key {
            Value::Integer(i) if i >= 1 => usize::try_from(i).ok(),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as usize),
            _ => None,
        };
        let Some(index) = index else {
            return Ok(None);
        };
        max = max.max(index);
        items += 1;
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((max > 0).then_some(max))
}

fn encode_array(out: &mut Vec<u8>, table: &Table, len: usize, depth: usize) -> Result<(), String> {
    out.push(b'[');
    for i in 1..=len {
        if i > 1 {
            out.push(b',');
        }
        let item: Value = table.raw_get(i).map_err(|e| e.to_string())?;
        encode_value(out, &item, depth)?;
    }
    out.push(b']');
    Ok(())
}

fn encode_object(out: &mut Vec<u8>, table: &Table, depth: usize) -> Result<(), String> {
    out.push(b'{');
    let mut first = true;
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &key {
            Value::String(s) => encode_string(out, &s.as_bytes()),
            Value::Integer(n) => encode_string(out, format_g14(*n as f64).as_bytes()),
            Value::Number(n) => encode_string(out, format_g14(*n).as_bytes()),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode_value(out, &value, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// C's `printf("%.14g", n)`, which is also how Lua 5.1 prints numbers.
pub(super) fn format_g14(n: f64) -> String {
    const PRECISION: i32 = 14;
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    } else {
        let decimals = (PRECISION - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{n:.decimals$}")).to_owned()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The Lua value for JSON `text`, or lua-cjson's error message.
pub(super) fn decode(lua: &Lua, text: &[u8]) -> Result<Value, String> {
    let mut parser = Parser { lua, text, pos: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.pos < text.len() {
        return Err(parser.expected("the end"));
    }
    Ok(value)
}

struct Parser<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// lua-cjson's "Expected X but found T at character N" for the next token.
    fn expected(&self, what: &str) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            self.token_name(),
            self.pos + 1
        )
    }

    fn token_name(&self) -> &'static str {
        match self.text.get(self.pos) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b'"') => "T_STRING",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(_) if self.literal(b"true") || self.literal(b"false") => "T_BOOLEAN",
            Some(_) if self.literal(b"null") => "T_NULL",
            Some(_) => "invalid token",
        }
    }

    fn literal(&self, word: &[u8]) -> bool {
        self.text[self.pos..].starts_with(word)
    }

    fn lua_err(e: mlua::Error) -> String {
        e.to_string()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_space();
        let Some(&c) = self.text.get(self.pos) else {
            return Err(self.expected("value"));
        };
        match c {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().and_then(|s| {
                self.lua
                    .create_string(s)
                    .map(Value::String)
                    .map_err(Self::lua_err)
            }),
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.keyword(),
        }
    }

    fn keyword(&mut self) -> Result<Value, String> {
        for (word, value) in [
            (&b"true"[..], Value::Boolean(true)),
            (b"false", Value::Boolean(false)),
            (b"null", null()),
        ] {
            if self.literal(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(self.expected("value"))
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while matches!(
            self.text.get(self.pos),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.pos += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
        match token.parse::<f64>() {
            Ok(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(Value::Integer(n as i64)),
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(format!(
                "Expected value but found invalid number at character {}",
                start + 1
            )),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.pos + 1
            ));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.check_depth(depth)?;
        self.pos += 1;
        let table = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_space();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Table(table));
        }
        for i in 1.. {
            let item = self.value(depth)?;
            table.raw_set(i, item).map_err(Self::lua_err)?;
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                _ => return Err(self.expected("comma or array end")),
            }
        }
        self.pos += 1;
        Ok(Value::Table(table))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.check_depth(depth)?;
        self.pos += 1;
        let table = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_space();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(table));
        }
        loop {
            self.skip_space();
            if self.text.get(self.pos) != Some(&b'"') {
                return Err(self.expected("object key string"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.text.get(self.pos) != Some(&b':') {
                return Err(self.expected("colon"));
            }
            self.pos += 1;
            let value = self.value(depth)?;
            let key = self.lua.create_string(key).map_err(Self::lua_err)?;
            table.raw_set(key, value).map_err(Self::lua_err)?;
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return Err(self.expected("comma or object end")),
            }
        }
        self.pos += 1;
        Ok(Value::Table(table))
    }

    /// The string starting at the opening quote under `pos`, unescaped.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                return Err(format!(
                    "Expected value but found unexpected end of string at character {}",
                    start + 1
                ));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => self.escape(&mut out, start)?,
                _ => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>, start: usize) -> Result<(), String> {
        let invalid =
            |what: &str| format!("Expected value but found {what} at character {}", start + 1);
        let Some(&c) = self.text.get(self.pos) else {
            return Err(invalid("unexpected end of string"));
        };
        self.pos += 1;
        let byte = match c {
            b'"' | b'\\' | b'/' => c,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let ch = self
                    .unicode()
                    .ok_or_else(|| invalid("invalid unicode escape code"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => return Err(invalid("invalid escape code")),
        };
        out.push(byte);
        Ok(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let value = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining surrogate pairs.
    fn unicode(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high);
        }
        if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
            return None;
        }
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(lua: &Lua, json: &str) -> String {
        let value = decode(lua, json.as_bytes()).expect("valid json");
        String::from_utf8(encode(&value).expect("encodable")).expect("utf-8")
    }

    fn encode_lua(lua: &Lua, code: &str) -> Result<String, String> {
        let value: Value = lua.load(code).eval().expect("valid chunk");
        encode(&value).map(|b| String::from_utf8(b).expect("utf-8"))
    }

    #[test]
    fn formats_numbers_like_printf_g14() {
        assert_eq!(format_g14(1.0), "1");
        assert_eq!(format_g14(-2.5), "-2.5");
        assert_eq!(format_g14(0.1), "0.1");
        assert_eq!(format_g14(1_700_000_000.0), "1700000000");
        assert_eq!(format_g14(1e15), "1e+15");
        assert_eq!(format_g14(123_456_789_012_345.0), "1.2345678901234e+14");
        assert_eq!(format_g14(0.000_01), "1e-05");
        assert_eq!(format_g14(1.0 / 3.0), "0.33333333333333");
    }

    #[test]
    fn encodes_like_lua_cjson() {
        let lua = Lua::new();
        assert_eq!(
            encode_lua(&lua, "return {1, 2, 'a'}"),
            Ok("[1,2,\"a\"]".into())
        );
        assert_eq!(encode_lua(&lua, "return {}"), Ok("{}".into()));
        assert_eq!(
            encode_lua(&lua, "return {a = true}"),
            Ok("{\"a\":true}".into())
        );
        assert_eq!(
            encode_lua(&lua, "return {[1] = 1, [3] = 3}"),
            Ok("[1,null,3]".into())
        );
        assert_eq!(
            encode_lua(&lua, "return 'a/b\"\\n\\1'"),
            Ok("\"a\\/b\\\"\\n\\u0001\"".into())
        );
        assert_eq!(encode_lua(&lua, "return 0.5"), Ok("0.5".into()));
        assert_eq!(
            encode_lua(&lua, "return {[1] = 1, [100] = 2}"),
            Err("Cannot serialise table: excessively sparse array".into())
        );
        assert_eq!(
            encode_lua(&lua, "return {print}"),
            Err("Cannot serialise function: type not supported".into())
        );
        assert_eq!(
            encode_lua(&lua, "return 1/0"),
            Err("Cannot serialise number: must not be NaN or Inf".into())
        );
        assert_eq!(
            encode_lua(&lua, "local t = {} t[1] = t return t"),
            Err("Cannot serialise, excessive nesting (1001)".into())
        );
    }

    #[test]
    fn round_trips() {
        let lua = Lua::new();
        assert_eq!(
            roundtrip(&lua, " [1, 2.5, \"x\", true, false, null] "),
            "[1,2.5,\"x\",true,false,null]"
        );
        assert_eq!(
            roundtrip(&lua, "{\"a\":{\"b\":[1]}}"),
            "{\"a\":{\"b\":[1]}}"
        );
        assert_eq!(roundtrip(&lua, "[]"), "{}");
        assert_eq!(
            roundtrip(&lua, "\"\\u00e9\\ud83d\\ude00\\/\""),
            "\"é😀\\/\""
        );
        assert_eq!(roundtrip(&lua, "-1.5e3"), "-1500");
    }

    #[test]
    fn decode_errors_match_lua_cjson() {
        let lua = Lua::new();
        let err = |text: &str| decode(&lua, text.as_bytes()).expect_err("invalid json");
        assert_eq!(err(""), "Expected value but found T_END at character 1");
        assert_eq!(
            err("x"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            err("[1 2]"),
            "Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            err("{1:2}"),
            "Expected object key string but found T_NUMBER at character 2"
        );
        assert_eq!(
            err("{\"a\" 2}"),
            "Expected colon but found T_NUMBER at character 6"
        );
        assert_eq!(
            err("1 2"),
            "Expected the end but found T_NUMBER at character 3"
        );
        assert_eq!(
            err("\"abc"),
            "Expected value but found unexpected end of string at character 1"
        );
        let deep = "[".repeat(1001);
        assert_eq!(
            err(&deep),
            "Found too many nested data structures (1001) at character 1001"
        );
    }
}
