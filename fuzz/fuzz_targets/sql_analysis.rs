//! SQL text: the proxy's one-pass tokenizer (digest, route, session effects) and the
//! MySQL-to-SQLite translator.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let _ = dbwire::proxy::analysis::inspect(sql);
    let _ = dbwire::sqlite::translate::translate(sql);
});
