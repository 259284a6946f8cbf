//! Comparison and number functions: GREATEST, LEAST, IF, RAND, TRUNCATE, CEIL, MOD, the math
//! functions (SQRT, LOG, SIN, ...), and UUID().

use std::cmp::Ordering as Order;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::functions::{Context, SqlFnArg};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

use super::{
    define, integer_arg, is_numeric, number_arg, number_of, truthy, user_error, value_text, Purity,
};

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::{Deterministic, Volatile};
    define(conn, "if", 3, Deterministic, |ctx| {
        Ok(ctx.get_arg(if truthy(ctx.get_raw(0)) { 1 } else { 2 }))
    })?;
    define(conn, "greatest", -1, Deterministic, |ctx| {
        extreme(ctx, Order::Greater)
    })?;
    define(conn, "least", -1, Deterministic, |ctx| {
        extreme(ctx, Order::Less)
    })?;
    define(conn, "truncate", 2, Deterministic, |ctx| Ok(truncate(ctx)))?;
    register_math(conn)?;
    define(conn, "rand", 0, Volatile, |_| {
        Ok(unit_interval(random_u64()))
    })?;
    define(conn, "rand", 1, Volatile, seeded_rand)?;
    define(conn, "uuid", 0, Volatile, |_| Ok(uuid()))
}

/// A math function of one number: `None` outside its domain (MySQL returns NULL there).
type Unary = fn(f64) -> Option<f64>;

/// Math functions SQLite builds only with SQLITE_ENABLE_MATH_FUNCTIONS, with MySQL's NULLs.
const UNARY_MATH: &[(&str, Unary)] = &[
    ("sqrt", |x| (x >= 0.0).then(|| x.sqrt())),
    ("exp", |x| Some(x.exp()).filter(|y| y.is_finite())),
    ("ln", |x| (x > 0.0).then(|| x.ln())),
    ("log", |x| (x > 0.0).then(|| x.ln())),
    ("log2", |x| (x > 0.0).then(|| x.log2())),
    ("log10", |x| (x > 0.0).then(|| x.log10())),
    ("sin", |x| Some(x.sin())),
    ("cos", |x| Some(x.cos())),
    ("tan", |x| Some(x.tan())),
    ("asin", |x| (-1.0..=1.0).contains(&x).then(|| x.asin())),
    ("acos", |x| (-1.0..=1.0).contains(&x).then(|| x.acos())),
    ("atan", |x| Some(x.atan())),
    ("cot", |x| Some(1.0 / x.tan()).filter(|y| y.is_finite())),
    ("degrees", |x| Some(x.to_degrees())),
    ("radians", |x| Some(x.to_radians())),
];

fn register_math(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::Deterministic;
    for (name, function) in UNARY_MATH {
        let function = *function;
        define(conn, name, 1, Deterministic, move |ctx| {
            Ok(number_arg(ctx, 0).and_then(function))
        })?;
    }
    define(conn, "ceil", 1, Deterministic, |ctx| {
        Ok(round_with(ctx, f64::ceil))
    })?;
    define(conn, "floor", 1, Deterministic, |ctx| {
        Ok(round_with(ctx, f64::floor))
    })?;
    define(conn, "mod", 2, Deterministic, |ctx| Ok(modulo(ctx)))?;
    define(conn, "pow", 2, Deterministic, |ctx| {
        Ok(number_arg(ctx, 0)
            .zip(number_arg(ctx, 1))
            .map(|(x, y)| x.powf(y))
            .filter(|z| z.is_finite()))
    })?;
    define(conn, "log", 2, Deterministic, |ctx| {
        let log =
            |base: f64, x: f64| (base > 0.0 && base != 1.0 && x > 0.0).then(|| x.ln() / base.ln());
        Ok(number_arg(ctx, 0)
            .zip(number_arg(ctx, 1))
            .and_then(|(base, x)| log(base, x)))
    })?;
    define(conn, "atan", 2, Deterministic, |ctx| {
        Ok(number_arg(ctx, 0)
            .zip(number_arg(ctx, 1))
            .map(|(y, x)| y.atan2(x)))
    })?;
    define(conn, "atan2", 2, Deterministic, |ctx| {
        Ok(number_arg(ctx, 0)
            .zip(number_arg(ctx, 1))
            .map(|(y, x)| y.atan2(x)))
    })?;
    define(conn, "pi", 0, Deterministic, |_| Ok(std::f64::consts::PI))
}

/// CEIL/FLOOR: integers stay integers; other numbers round to an integer when it fits.
fn round_with(ctx: &Context<'_>, round: fn(f64) -> f64) -> SqlValue {
    match ctx.get_raw(0) {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(number) => SqlValue::Integer(number),
        other => {
            let rounded = round(number_of(other));
            if rounded.abs() < 9.2e18 {
                SqlValue::Integer(rounded as i64)
            } else {
                SqlValue::Real(rounded)
            }
        }
    }
}

/// `MOD(a, b)` / `a % b`: NULL when `b` is 0; the sign follows `a`.
fn modulo(ctx: &Context<'_>) -> SqlValue {
    match (ctx.get_raw(0), ctx.get_raw(1)) {
        (ValueRef::Null, _) | (_, ValueRef::Null) => SqlValue::Null,
        (ValueRef::Integer(_), ValueRef::Integer(0)) => SqlValue::Null,
        (ValueRef::Integer(a), ValueRef::Integer(b)) => SqlValue::Integer(a.wrapping_rem(b)),
        (a, b) => {
            let divisor = number_of(b);
            if divisor == 0.0 {
                SqlValue::Null
            } else {
                SqlValue::Real(number_of(a) % divisor)
            }
        }
    }
}

/// `GREATEST(...)` (`want` = Greater) and `LEAST(...)` (`want` = Less): NULL if any argument
/// is NULL; numbers compare numerically, anything else as case-insensitive text.
fn extreme(ctx: &Context<'_>, want: Order) -> rusqlite::Result<Option<SqlFnArg>> {
    if ctx.len() < 2 {
        return Err(user_error(
            "Incorrect parameter count in the call to native function",
        ));
    }
    if (0..ctx.len()).any(|index| ctx.get_raw(index) == ValueRef::Null) {
        return Ok(None);
    }
    let numeric = (0..ctx.len()).all(|index| is_numeric(ctx.get_raw(index)));
    let compare = |a: usize, b: usize| -> Order {
        let (left, right) = (ctx.get_raw(a), ctx.get_raw(b));
        if !numeric {
            let fold = |v: ValueRef<'_>| value_text(v).unwrap_or_default().to_lowercase();
            return fold(left).cmp(&fold(right));
        }
        match (left, right) {
            (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
            _ => number_of(left).total_cmp(&number_of(right)),
        }
    };
    let best = (1..ctx.len()).fold(0, |best, index| {
        if compare(index, best) == want {
            index
        } else {
            best
        }
    });
    Ok(Some(ctx.get_arg(best)))
}

/// `TRUNCATE(x, d)`: `x` cut (toward zero) to `d` decimals; integers stay integers.
fn truncate(ctx: &Context<'_>) -> SqlValue {
    let Some(decimals) = integer_arg(ctx, 1) else {
        return SqlValue::Null;
    };
    let decimals = i32::try_from(decimals.clamp(-30, 30)).unwrap_or(0);
    match ctx.get_raw(0) {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(number) if decimals >= 0 => SqlValue::Integer(number),
        ValueRef::Integer(number) => {
            let unit = 10i64
                .checked_pow(decimals.unsigned_abs())
                .unwrap_or(i64::MAX);
            SqlValue::Integer(number / unit * unit)
        }
        other => {
            let scale = 10f64.powi(decimals);
            SqlValue::Real((number_of(other) * scale).trunc() / scale)
        }
    }
}

/// `RAND(seed)`: a repeatable sequence for a constant seed, one value per call.
fn seeded_rand(ctx: &Context<'_>) -> rusqlite::Result<f64> {
    let seed = integer_arg(ctx, 0).unwrap_or(0);
    let state = ctx.get_or_create_aux(0, |_| -> Result<Mutex<u64>, rusqlite::Error> {
        Ok(Mutex::new(u64::from_ne_bytes(seed.to_ne_bytes())))
    })?;
    let mut state = state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    Ok(unit_interval(splitmix(*state)))
}

/// A fresh random 64-bit value: SipHash keyed with the process's random hasher keys.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// The SplitMix64 output function, which spreads a counter into well-mixed bits.
fn splitmix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Maps 64 random bits to [0, 1).
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `UUID()`: a random (version 4) UUID in MySQL's text form.
fn uuid() -> String {
    let high = random_u64();
    let low = random_u64();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        (high & 0x0fff) | 0x4000,
        ((low >> 48) & 0x3fff) | 0x8000,
        low & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{connection, error_of, int_of, query, real_of, text_of};
    use rusqlite::types::Value as SqlValue;

    #[test]
    fn conditionals_and_extremes() {
        let (conn, _) = connection();
        assert_eq!(text_of(&conn, "SELECT if(1 > 0, 'yes', 'no')"), "yes");
        assert_eq!(text_of(&conn, "SELECT if('0', 'yes', 'no')"), "no");
        assert_eq!(text_of(&conn, "SELECT if(NULL, 'yes', 'no')"), "no");
        assert_eq!(int_of(&conn, "SELECT greatest(3, 10, 7)"), 10);
        assert_eq!(int_of(&conn, "SELECT least(3, 10, 7)"), 3);
        assert_eq!(text_of(&conn, "SELECT greatest('10', '9')"), "9");
        assert_eq!(query(&conn, "SELECT greatest(1, NULL)"), SqlValue::Null);
        assert!(error_of(&conn, "SELECT greatest(1)").contains("Incorrect parameter count"));
    }

    #[test]
    fn truncation() {
        let (conn, _) = connection();
        assert_eq!(real_of(&conn, "SELECT truncate(1.999, 1)"), 1.9);
        assert_eq!(real_of(&conn, "SELECT truncate(-1.999, 0)"), -1.0);
        assert_eq!(int_of(&conn, "SELECT truncate(1234, -2)"), 1200);
        assert_eq!(int_of(&conn, "SELECT truncate(7, 2)"), 7);
    }

    #[test]
    fn math() {
        let (conn, _) = connection();
        assert_eq!(int_of(&conn, "SELECT ceil(1.2)"), 2);
        assert_eq!(int_of(&conn, "SELECT floor(-1.2)"), -2);
        assert_eq!(int_of(&conn, "SELECT ceil(5)"), 5);
        assert_eq!(int_of(&conn, "SELECT mod(-7, 3)"), -1);
        assert_eq!(query(&conn, "SELECT mod(7, 0)"), SqlValue::Null);
        assert_eq!(real_of(&conn, "SELECT mod(7.5, 2)"), 1.5);
        assert_eq!(real_of(&conn, "SELECT pow(2, 10)"), 1024.0);
        assert_eq!(real_of(&conn, "SELECT sqrt(16)"), 4.0);
        assert_eq!(query(&conn, "SELECT sqrt(-1)"), SqlValue::Null);
        assert_eq!(real_of(&conn, "SELECT log(2, 8)"), 3.0);
        assert_eq!(query(&conn, "SELECT ln(0)"), SqlValue::Null);
        assert_eq!(real_of(&conn, "SELECT log10(1000)"), 3.0);
        assert_eq!(real_of(&conn, "SELECT degrees(pi())"), 180.0);
        assert_eq!(real_of(&conn, "SELECT atan2(0, -1)"), std::f64::consts::PI);
        assert_eq!(query(&conn, "SELECT acos(2)"), SqlValue::Null);
    }

    #[test]
    fn randomness() {
        let (conn, _) = connection();
        let random = real_of(&conn, "SELECT rand()");
        assert!((0.0..1.0).contains(&random));
        assert_eq!(
            real_of(&conn, "SELECT rand(42)"),
            real_of(&conn, "SELECT rand(42)")
        );
        let values: Vec<f64> = conn
            .prepare("SELECT rand(42) FROM (SELECT 1 UNION ALL SELECT 2)")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_ne!(values[0], values[1], "a seeded sequence moves on per row");
        let uuid = text_of(&conn, "SELECT uuid()");
        assert_eq!((uuid.len(), uuid.matches('-').count()), (36, 4));
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(uuid, text_of(&conn, "SELECT uuid()"));
    }
}
