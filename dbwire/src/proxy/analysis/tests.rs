//! Whole-query tests of [`analyze`] and [`digest`]; each module has its own unit tests.

use super::*;

/// [`analyze`], checking that [`inspect`] agrees with it and with [`digest`].
fn checked(sql: &str) -> StatementInfo {
    let info = analyze(sql);
    assert_eq!(inspect(sql), (digest(sql), info.clone()), "{sql}");
    info
}

fn route(sql: &str) -> Route {
    checked(sql).route
}

fn effects(sql: &str) -> SessionEffects {
    checked(sql).effects
}

fn assert_routes(expected: Route, queries: &[&str]) {
    for sql in queries {
        assert_eq!(route(sql), expected, "{sql}");
    }
}

#[test]
fn reads() {
    assert_routes(
        Route::Read,
        &[
            "SELECT * FROM t WHERE id = 1",
            "select 1",
            "(SELECT a FROM t) UNION (SELECT b FROM u)",
            "WITH c AS (SELECT 1) SELECT * FROM c",
            "with recursive c (n) as (select 1 union all select n + 1 from c) select * from c",
            "SHOW TABLES",
            "show full columns from `wp_posts`",
            "SHOW VARIABLES LIKE 'max_allowed_packet'",
            "DESCRIBE t",
            "desc t",
            "EXPLAIN SELECT * FROM t",
            "EXPLAIN UPDATE t SET a = 1",
            "EXPLAIN FORMAT=JSON DELETE FROM t",
            "TABLE t",
            "VALUES ROW(1, 2)",
            "  /* leading */ -- comment\n # more\n SELECT 1",
            "/*!40001 SELECT 1 */",
            "SELECT @@version, @@session.sql_mode",
            "SELECT 'FOR UPDATE', \"LOCK IN SHARE MODE\", `into` FROM t",
            "SELECT a FROM t -- FOR UPDATE",
            "SELECT a FROM t /* INTO @x */",
            "SELECT a FROM t # GET_LOCK('x', 1)",
            "SELECT REPLACE(a, 'b', 'c'), INSERT(a, 1, 1, 'x') FROM t",
            "SELECT 1; SELECT 2",
        ],
    );
}

#[test]
fn writes() {
    assert_routes(
        Route::Write,
        &[
            "INSERT INTO t VALUES (1)",
            "update t set a = 1",
            "DELETE FROM t",
            "REPLACE INTO t VALUES (1)",
            "CREATE TABLE t (a INT)",
            "ALTER TABLE t ADD b INT",
            "DROP TABLE t",
            "TRUNCATE t",
            "GRANT SELECT ON *.* TO 'u'@'h'",
            "LOCK TABLES t READ",
            "CALL p()",
            "SET NAMES utf8mb4",
            "BEGIN",
            "START TRANSACTION",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT s",
            "XA START 'x'",
            "DO SLEEP(1)",
            "LOAD DATA INFILE 'x' INTO TABLE t",
            "HANDLER t OPEN",
            "RENAME TABLE a TO b",
            "OPTIMIZE TABLE t",
            "USE db",
            "ANALYZE TABLE t",
            "FROBNICATE",
            "",
            "-- nothing",
            "42",
        ],
    );
}

#[test]
fn reads_that_must_run_on_the_primary() {
    assert_routes(
        Route::Write,
        &[
            "SELECT * FROM t WHERE id = 1 FOR UPDATE",
            "select * from t for update skip locked",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT * FROM t WHERE a IN (SELECT a FROM u FOR UPDATE)",
            "SELECT a INTO @x FROM t",
            "SELECT a FROM t INTO OUTFILE '/tmp/a'",
            "SELECT a INTO DUMPFILE '/tmp/a' FROM t",
            "SELECT GET_LOCK('wp_cron', 10)",
            "SELECT RELEASE_LOCK('wp_cron')",
            "SELECT RELEASE_ALL_LOCKS()",
            "SELECT IS_USED_LOCK('a')",
            "SELECT IS_FREE_LOCK('a')",
            "SELECT LAST_INSERT_ID()",
            "SELECT FOUND_ROWS()",
            "SELECT SQL_CALC_FOUND_ROWS * FROM wp_posts LIMIT 10",
            "SELECT @rownum := @rownum + 1 FROM t",
            "SELECT @x",
            "SELECT @@warning_count",
            "SHOW WARNINGS",
            "SHOW ERRORS",
            "SHOW COUNT(*) WARNINGS",
            "SHOW MASTER STATUS",
            "SHOW REPLICA STATUS",
            "SHOW FULL PROCESSLIST",
            "WITH c AS (SELECT 1) UPDATE t JOIN c SET t.a = 1",
            "WITH c AS (SELECT 1) DELETE FROM t",
            "EXPLAIN ANALYZE SELECT GET_LOCK('a', 1)",
            "EXPLAIN ANALYZE UPDATE t SET a = 1",
            "SELECT 1; UPDATE t SET a = 1",
        ],
    );
}

#[test]
fn transactions() {
    let start = Some(Boundary::Start);
    let end = Some(Boundary::End);
    for (sql, expected) in [
        ("BEGIN", start),
        ("begin work", start),
        ("START TRANSACTION", start),
        ("START TRANSACTION READ ONLY", start),
        ("start transaction with consistent snapshot", start),
        ("XA START 'x'", start),
        ("XA BEGIN 'x'", start),
        ("SET autocommit=0", start),
        ("SET autocommit = OFF", start),
        ("COMMIT", end),
        ("COMMIT WORK", end),
        ("commit and no chain", end),
        ("COMMIT AND CHAIN", start),
        ("ROLLBACK", end),
        ("ROLLBACK WORK AND NO CHAIN RELEASE", end),
        ("XA COMMIT 'x'", end),
        ("XA ROLLBACK 'x'", end),
        ("SET autocommit=1", end),
        ("ROLLBACK TO SAVEPOINT s", None),
        ("ROLLBACK WORK TO s", None),
        ("SAVEPOINT s", None),
        ("RELEASE SAVEPOINT s", None),
        ("XA END 'x'", None),
        ("XA PREPARE 'x'", None),
        ("START REPLICA", None),
        ("SELECT 'BEGIN'", None),
        ("BEGIN; UPDATE t SET a = 1; COMMIT", end),
    ] {
        assert_eq!(effects(sql).transaction, expected, "{sql}");
    }
    assert_eq!(effects("SET autocommit=0").autocommit, Some(false));
    assert_eq!(effects("set @@autocommit = 1").autocommit, Some(true));
    assert!(effects("SET GLOBAL autocommit = 0").is_empty());
}

#[test]
fn temporary_tables() {
    assert_eq!(
        effects("CREATE TEMPORARY TABLE tmp (a INT)").temporary_tables_created,
        1
    );
    assert_eq!(
        effects("create temporary table if not exists tmp select 1").temporary_tables_created,
        1
    );
    assert_eq!(
        effects("CREATE OR REPLACE TEMPORARY TABLE tmp (a INT)").temporary_tables_created,
        1
    );
    assert_eq!(
        effects("DROP TEMPORARY TABLE IF EXISTS a, `b`, c").temporary_tables_dropped,
        3
    );
    assert!(effects("CREATE TABLE temporary_stuff (a INT)").is_empty());
    assert!(effects("CREATE TABLE t (temporary INT)").is_empty());
    assert!(effects("DROP TABLE t").is_empty());
    let both = effects("CREATE TEMPORARY TABLE a (x INT); CREATE TEMPORARY TABLE b (x INT)");
    assert_eq!(both.temporary_tables_created, 2);
}

#[test]
fn user_variables() {
    for sql in [
        "SET @x = 1",
        "SET @x := 1, @y = 2",
        "set @`quoted` = 'a'",
        "SELECT @rn := @rn + 1 FROM t",
        "SELECT a INTO @x FROM t",
        "SELECT a, b FROM t INTO @a, @b",
        "UPDATE t SET a = (@x := @x + 1)",
    ] {
        let found = effects(sql);
        assert!(found.user_variables, "{sql}");
        assert!(found.pins(), "{sql}");
    }
    assert!(!effects("SELECT '@x := 1'").user_variables);
    assert!(!effects("SELECT @x").user_variables);
}

#[test]
fn named_locks() {
    let taken = effects("SELECT GET_LOCK('a', 10)");
    assert_eq!(taken.named_locks_acquired, 1);
    assert!(taken.pins());
    assert_eq!(effects("DO GET_LOCK('a', 1)").named_locks_acquired, 1);
    let released = effects("SELECT RELEASE_LOCK('a')");
    assert_eq!(released.named_locks_released, 1);
    assert!(!released.pins());
    assert!(effects("DO RELEASE_ALL_LOCKS()").all_named_locks_released);
    assert!(effects("SELECT 'GET_LOCK(1)', get_lock FROM t").is_empty());
}

#[test]
fn table_locks() {
    let start = Some(Boundary::Start);
    let end = Some(Boundary::End);
    for (sql, expected) in [
        ("LOCK TABLES t READ, u WRITE", start),
        ("lock table t write", start),
        ("LOCK INSTANCE FOR BACKUP", start),
        ("FLUSH TABLES WITH READ LOCK", start),
        ("FLUSH TABLES t FOR EXPORT", start),
        ("UNLOCK TABLES", end),
        ("unlock instance", end),
        ("FLUSH TABLES", None),
        ("FLUSH PRIVILEGES", None),
    ] {
        assert_eq!(effects(sql).table_locks, expected, "{sql}");
    }
}

#[test]
fn calc_found_rows_pins_until_the_next_statement() {
    let found = effects("SELECT SQL_CALC_FOUND_ROWS wp_posts.ID FROM wp_posts LIMIT 0, 10");
    assert!(found.calc_found_rows && found.pins());
    assert!(effects("SELECT FOUND_ROWS()").is_empty());
}

#[test]
fn prepared_statements() {
    for sql in [
        "PREPARE s FROM 'SELECT ?'",
        "EXECUTE s USING @a",
        "DEALLOCATE PREPARE s",
        "DROP PREPARE s",
    ] {
        assert!(effects(sql).prepared_statements, "{sql}");
    }
}

#[test]
fn session_variables() {
    let replayed = |sql: &str| -> Vec<(String, String)> {
        effects(sql)
            .variables
            .into_iter()
            .map(|v| (v.name, v.sql))
            .collect()
    };
    let pair = |n: &str, s: &str| (n.to_owned(), s.to_owned());
    assert_eq!(
        replayed("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci"),
        [pair(
            "names",
            "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci"
        )]
    );
    assert_eq!(
        replayed("SET SESSION sql_mode = 'TRADITIONAL'"),
        [pair("sql_mode", "SET SESSION sql_mode = 'TRADITIONAL'")]
    );
    assert_eq!(
        replayed("SET time_zone = '+00:00'; SET sql_mode = ''; SET time_zone = 'UTC'"),
        [
            pair("sql_mode", "SET SESSION sql_mode = ''"),
            pair("time_zone", "SET SESSION time_zone = 'UTC'"),
        ]
    );
    assert_eq!(
        replayed("/*!40101 SET NAMES utf8 */"),
        [pair("names", "SET NAMES utf8")]
    );
    assert_eq!(
        replayed("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;"),
        [pair(
            "sql_mode",
            "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'"
        )]
    );
    assert!(replayed("SET GLOBAL sql_mode = ''").is_empty());
    assert!(replayed("SET @@global.sql_mode = ''").is_empty());
    assert!(replayed("SELECT 'SET NAMES x'").is_empty());
    let transaction = effects("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
    assert!(transaction.next_transaction && transaction.pins());
    assert!(transaction.variables.is_empty());
}

#[test]
fn set_statement_for() {
    let info = analyze("SET STATEMENT max_statement_time = 1 FOR SELECT * FROM t");
    assert_eq!(info.route, Route::Read);
    assert!(info.effects.is_empty());
    assert_eq!(
        route("SET STATEMENT max_statement_time = 1 FOR UPDATE t SET a = 1"),
        Route::Write
    );
}

#[test]
fn use_schema() {
    assert_eq!(
        effects("USE wordpress").schema.as_deref(),
        Some("wordpress")
    );
    assert_eq!(effects("use `my``db`;").schema.as_deref(), Some("my`db"));
    assert_eq!(effects("USE a; USE b").schema.as_deref(), Some("b"));
    assert_eq!(effects("USE").schema, None);
}

#[test]
fn opaque_code() {
    assert!(effects("CALL p(1)").opaque);
    assert!(!effects("CALL p(1)").pins());
    let body = "CREATE PROCEDURE p() BEGIN SET @x = 1; START TRANSACTION; SELECT 1; END";
    let info = analyze(body);
    assert_eq!(info.route, Route::Write);
    assert!(info.effects.is_empty(), "{:?}", info.effects);
    let trigger = "CREATE DEFINER=`root`@`localhost` TRIGGER t BEFORE INSERT ON a \
                   FOR EACH ROW BEGIN SET NEW.x = 1; END";
    assert!(effects(trigger).is_empty());
    let event = "ALTER EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN COMMIT; SET @x = 1; END";
    assert!(effects(event).is_empty());
    let index = analyze("CREATE INDEX function ON t (a); SET @x = 1");
    assert!(index.effects.user_variables);
    let compound = effects("BEGIN NOT ATOMIC SET @x = 1; SELECT 1; END");
    assert!(compound.opaque && compound.transaction.is_none() && !compound.user_variables);
}

#[test]
fn multi_statement_queries_merge() {
    let info = analyze("SET NAMES utf8; SELECT GET_LOCK('a', 1); SELECT 'x'; USE db");
    assert_eq!(info.route, Route::Write);
    assert_eq!(info.effects.named_locks_acquired, 1);
    assert_eq!(info.effects.schema.as_deref(), Some("db"));
    assert_eq!(info.effects.variables.len(), 1);
    assert_eq!(route("SELECT ';'; SELECT 1;;"), Route::Read);
}

#[test]
fn digests_match_across_literals_whitespace_comments_and_case() {
    let a = digest("SELECT * FROM wp_options WHERE option_name = 'siteurl' LIMIT 1");
    let b = digest("select *\n  from wp_options /* x */ where option_name='home' limit 5;");
    assert_eq!(a, b);
    assert_eq!(
        a.text,
        "SELECT * FROM wp_options WHERE option_name = ? LIMIT ?"
    );
    assert_eq!(a.hash, digest_hash(a.text.as_bytes()));
}

#[test]
fn inspect_matches_digest_and_analyze() {
    for sql in [
        "INSERT INTO t VALUES (1, 'a'), (2, 'b') ON DUPLICATE KEY UPDATE a = VALUES(a)",
        "SELECT a FROM t WHERE b IN (1, GET_LOCK('x', 1)) AND c = -1; SELECT 2;",
        "CREATE PROCEDURE p() BEGIN SELECT 1; END; SELECT 3",
        "EXPLAIN SELECT * FROM t WHERE a IN (1, 2); SET NAMES utf8",
        &format!("SELECT {} FROM t FOR UPDATE", "a, ".repeat(1000)),
        &format!("INSERT INTO t VALUES {}(1)", "(1, 'x'), ".repeat(1000)),
    ] {
        checked(sql);
    }
    let (digest, info) = inspect("SELECT a FROM t WHERE b IN (1, GET_LOCK('x', 1))");
    assert_eq!(digest.text, "SELECT a FROM t WHERE b IN (...)");
    assert_eq!(info.effects.named_locks_acquired, 1);
}

#[test]
fn a_dot_before_digits_and_letters_is_not_a_number() {
    // Found by the garbage test: `.1L` once sent the tokenizer into an endless loop.
    for sql in [".1L", "SELECT t.1a FROM t", "SELECT .5e3x"] {
        let _ = analyze(sql);
        assert!(!digest(sql).text.is_empty());
    }
}

#[test]
fn garbage_does_not_panic() {
    let mut noise = crate::noise::Noise::new(0x9e37_79b9_7f4a_7c15);
    let alphabet: Vec<char> =
        "SELECT FOR UPDATE SET @x:=1 ('\"`\\;,.-/*!#\n é\u{1F600} INTO VALUES IN"
            .chars()
            .collect();
    for _ in 0..20_000 {
        let len = (noise.next() % 48) as usize;
        let sql: String = (0..len)
            .map(|_| alphabet[noise.next() as usize % alphabet.len()])
            .collect();
        checked(&sql);
        assert!(digest(&sql).text.len() <= MAX_DIGEST_LEN);
    }
}

/// A typical WordPress query of about 200 bytes.
const WORDPRESS_QUERY: &str = "SELECT SQL_CALC_FOUND_ROWS wp_posts.ID FROM wp_posts \
    LEFT JOIN wp_term_relationships ON (wp_posts.ID = wp_term_relationships.object_id) \
    WHERE 1=1 AND wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish') \
    GROUP BY wp_posts.ID ORDER BY wp_posts.post_date DESC LIMIT 0, 10";

#[test]
fn sanity_check_on_a_wordpress_query() {
    let d = digest(WORDPRESS_QUERY);
    assert!(d
        .text
        .starts_with("SELECT SQL_CALC_FOUND_ROWS wp_posts.ID FROM wp_posts LEFT JOIN"));
    assert!(d
        .text
        .ends_with("ORDER BY wp_posts.post_date DESC LIMIT ?, ?"));
    let info = analyze(WORDPRESS_QUERY);
    assert_eq!(info.route, Route::Write);
    assert!(info.effects.calc_found_rows);
}

/// Per-call time of the tokenizer alone, `digest` and `analyze`; run with
/// `cargo test --release -p dbwire --lib proxy::analysis::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check"]
fn timing() {
    let queries = [
        WORDPRESS_QUERY,
        "SELECT wp_posts.ID, wp_posts.post_title FROM wp_posts WHERE wp_posts.post_type = \
         'page' AND wp_posts.post_status = 'publish' AND wp_posts.post_parent = 0 \
         ORDER BY wp_posts.menu_order ASC LIMIT 0, 20",
        "SELECT option_name, option_value FROM wp_options WHERE autoload IN ('yes', 'on', \
         'auto-on', 'auto') AND option_name NOT IN ('a', 'b') ORDER BY option_id ASC LIMIT 100",
    ];
    for sql in queries {
        let tokens = time(|| tokens::Tokens::new(sql).count() as u64);
        let digest = time(|| digest(sql).hash);
        let analyze = time(|| u64::from(analyze(sql).route == Route::Read));
        let inspect = time(|| inspect(sql).0.hash);
        println!(
            "{} bytes: tokens {tokens:?}, digest {digest:?}, analyze {analyze:?}, \
             inspect {inspect:?}",
            sql.len()
        );
    }
}

/// The fastest of ten batches of 100,000 calls, per call (the machine may be shared).
fn time(mut run: impl FnMut() -> u64) -> std::time::Duration {
    let rounds = 100_000_u32;
    let mut sink = 0_u64;
    let fastest = (0..10)
        .map(|_| {
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                sink = sink.wrapping_add(std::hint::black_box(run()));
            }
            started.elapsed() / rounds
        })
        .min()
        .unwrap_or_default();
    std::hint::black_box(sink);
    fastest
}
