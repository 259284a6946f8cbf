//! RESP: the incremental command parser (input in fuzzer-chosen pieces, before and after
//! AUTH) and every command it yields run against a small store, so each command's argument
//! handling meets arbitrary arguments.

#![no_main]

use std::time::Duration;

use kv::{CommandParser, Limits, Outcome, Store, StoreConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let store = Store::new(StoreConfig {
        maxmemory: 1 << 20,
        requirepass: (split & 0x80 != 0).then(|| "pw".to_owned()),
        limits: Limits {
            max_reply_bytes: 1 << 20,
            ..Limits::default()
        },
        ..StoreConfig::default()
    });
    store.set_script_time_limit(Duration::from_millis(20));
    let mut session = store.new_session();
    let mut parser = CommandParser::default();
    let piece = usize::from(split & 0x3f) + 1;
    let mut end = 0;
    let mut start = 0;
    let mut commands = 0;
    while end < input.len() && commands < 64 {
        end = (end + piece).min(input.len());
        loop {
            let limits = store.limits_for(&session);
            match parser.parse(&input[start..end], &limits) {
                Ok(Some((args, used))) => {
                    start += used;
                    commands += 1;
                    if matches!(store.execute(&mut session, &args), Outcome::Drop) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    store.close_session(&mut session);
});
