//! The SQLite backend through the `Session` trait: CRUD, value types, NULLs, MySQL error codes,
//! transactions, LAST_INSERT_ID / FOUND_ROWS, affected-row counts, prepared statements,
//! multi-statement queries and databases.

mod sqlite_support;

use dbwire::backend::column_flags;
use dbwire::{Backend, ColumnType, QueryResult, Session, Value};
use sqlite_support::{affected, error, insert_id, result_set, rows, run, scalar, Fixture};

const ITEMS: &str = "CREATE TABLE items (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name VARCHAR(100) NOT NULL,
    qty INT NOT NULL DEFAULT 0,
    price DECIMAL(10,2) DEFAULT NULL,
    note TEXT,
    PRIMARY KEY (id),
    UNIQUE KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

#[test]
fn crud_round_trip() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    run(&mut session, ITEMS);
    let inserted = run(
        &mut session,
        "INSERT INTO items (name, qty, price) VALUES ('apple', 3, 1.5)",
    );
    assert_eq!((affected(&inserted), insert_id(&inserted)), (1, 1));
    run(&mut session, "INSERT INTO items (name) VALUES ('pear')");
    assert_eq!(
        rows(
            &mut session,
            "SELECT id, name, qty, price, note FROM items ORDER BY id"
        ),
        [
            ["1", "apple", "3", "1.50", "NULL"],
            ["2", "pear", "0", "NULL", "NULL"]
        ]
    );
    let updated = run(
        &mut session,
        "UPDATE items SET qty = qty + 1 WHERE name = 'pear'",
    );
    assert_eq!(affected(&updated), 1);
    let deleted = run(&mut session, "DELETE FROM items WHERE qty > 2");
    assert_eq!(affected(&deleted), 1);
    assert_eq!(
        rows(&mut session, "SELECT name, qty FROM items"),
        [["pear", "1"]]
    );
}

#[test]
fn values_keep_their_mysql_types() {
    let fixture = Fixture::new();
    let mut session = fixture.session("types");
    run(
        &mut session,
        "CREATE TABLE t (i INT, big BIGINT UNSIGNED, d DOUBLE, dec DECIMAL(8,3), s VARCHAR(20), \
         b BLOB, dt DATETIME, day DATE, flag TINYINT(1), e ENUM('a','b'))",
    );
    run(
        &mut session,
        "INSERT INTO t VALUES (-7, 18446744073709551615, 2.5, 3.25, 'héllo', x'00ff', \
         '2024-03-09 14:05:07', '2024-03-09', 1, 'b')",
    );
    run(&mut session, "INSERT INTO t (i) VALUES (NULL)");
    let (columns, rows) = result_set(run(&mut session, "SELECT * FROM t"));
    let types: Vec<ColumnType> = columns.iter().map(|column| column.column_type).collect();
    assert_eq!(
        types,
        [
            ColumnType::Long,
            ColumnType::LongLong,
            ColumnType::Double,
            ColumnType::NewDecimal,
            ColumnType::VarString,
            ColumnType::Blob,
            ColumnType::DateTime,
            ColumnType::Date,
            ColumnType::Tiny,
            ColumnType::String,
        ]
    );
    assert_ne!(columns[1].flags & column_flags::UNSIGNED, 0);
    assert_ne!(columns[5].flags & column_flags::BINARY, 0);
    assert_eq!(columns[4].table, "t");
    assert_eq!(columns[4].schema, "types");
    assert_eq!(
        rows[0],
        [
            Value::Int(-7),
            Value::UInt(u64::MAX),
            Value::Double(2.5),
            Value::Bytes(b"3.250".to_vec()),
            Value::Bytes("héllo".as_bytes().to_vec()),
            Value::Bytes(vec![0x00, 0xff]),
            Value::Bytes(b"2024-03-09 14:05:07".to_vec()),
            Value::Bytes(b"2024-03-09".to_vec()),
            Value::Int(1),
            Value::Bytes(b"b".to_vec()),
        ]
    );
    assert!(
        rows[1][1..].iter().all(|value| *value == Value::Null),
        "{:?}",
        rows[1]
    );
    let (expression_columns, expression_rows) = result_set(run(
        &mut session,
        "SELECT 1 + 1 AS two, 'x' AS letter, 0.5 AS half, NULL AS empty_value",
    ));
    let names: Vec<&str> = expression_columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["two", "letter", "half", "empty_value"]);
    assert_eq!(expression_columns[0].column_type, ColumnType::LongLong);
    assert_eq!(expression_columns[2].column_type, ColumnType::Double);
    assert_eq!(expression_rows[0][3], Value::Null);
}

#[test]
fn mysql_error_codes() {
    let fixture = Fixture::new();
    let mut session = fixture.session("errors");
    run(&mut session, ITEMS);
    run(&mut session, "INSERT INTO items (name) VALUES ('apple')");
    let duplicate = error(&mut session, "INSERT INTO items (name) VALUES ('apple')");
    assert_eq!((duplicate.code, &duplicate.sql_state), (1062, b"23000"));
    assert!(
        duplicate.message.contains("for key 'name'"),
        "{}",
        duplicate.message
    );
    let missing = error(&mut session, "SELECT * FROM nothing_here");
    assert_eq!((missing.code, &missing.sql_state), (1146, b"42S02"));
    assert_eq!(missing.message, "Table 'errors.nothing_here' doesn't exist");
    let column = error(&mut session, "SELECT bogus FROM items");
    assert_eq!((column.code, &column.sql_state), (1054, b"42S22"));
    let syntax = error(&mut session, "SELEKT 1");
    assert_eq!((syntax.code, &syntax.sql_state), (1064, b"42000"));
    let null = error(&mut session, "INSERT INTO items (name) VALUES (NULL)");
    assert_eq!((null.code, &null.sql_state), (1048, b"23000"));
    let exists = error(&mut session, ITEMS);
    assert_eq!((exists.code, &exists.sql_state), (1050, b"42S01"));
    let variable = error(&mut session, "SELECT @@no_such_variable");
    assert_eq!(variable.code, 1193);
}

#[test]
fn transactions_commit_and_roll_back() {
    let fixture = Fixture::new();
    let mut session = fixture.session("tx");
    let mut observer = fixture.session("tx");
    run(&mut session, "CREATE TABLE t (x INT)");
    assert!(session.autocommit() && !session.in_transaction());
    run(&mut session, "START TRANSACTION");
    assert!(session.in_transaction());
    run(&mut session, "INSERT INTO t VALUES (1)");
    assert_eq!(
        scalar(&mut observer, "SELECT COUNT(*) FROM t"),
        "0",
        "uncommitted rows are invisible"
    );
    run(&mut session, "ROLLBACK");
    assert!(!session.in_transaction());
    assert_eq!(scalar(&mut session, "SELECT COUNT(*) FROM t"), "0");
    run(&mut session, "BEGIN");
    run(&mut session, "INSERT INTO t VALUES (2)");
    let failed = error(&mut session, "INSERT INTO missing VALUES (1)");
    assert_eq!(failed.code, 1146);
    assert!(
        session.in_transaction(),
        "a failed statement leaves the transaction open"
    );
    run(&mut session, "COMMIT");
    assert_eq!(scalar(&mut observer, "SELECT COUNT(*) FROM t"), "1");
}

#[test]
fn concurrent_writers_wait_for_each_other() {
    let fixture = Fixture::new();
    run(
        &mut fixture.session("busy"),
        "CREATE TABLE t (writer INT, n INT)",
    );
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let mut session = fixture.session("busy");
            scope.spawn(move || {
                for n in 0..50 {
                    if n % 10 == 0 {
                        run(&mut session, "BEGIN");
                        run(&mut session, "SELECT COUNT(*) FROM t");
                        run(
                            &mut session,
                            &format!("INSERT INTO t VALUES ({writer}, {n})"),
                        );
                        run(&mut session, "COMMIT");
                    } else {
                        run(
                            &mut session,
                            &format!("INSERT INTO t VALUES ({writer}, {n})"),
                        );
                    }
                }
            });
        }
    });
    assert_eq!(
        scalar(&mut fixture.session("busy"), "SELECT COUNT(*) FROM t"),
        "200"
    );
}

#[test]
fn a_held_write_lock_times_out_with_1205() {
    let fixture =
        Fixture::with(|config| config.busy_timeout = std::time::Duration::from_millis(50));
    let mut holder = fixture.session("locks");
    let mut waiter = fixture.session("locks");
    run(&mut holder, "CREATE TABLE t (x INT)");
    run(&mut holder, "BEGIN");
    run(&mut holder, "INSERT INTO t VALUES (1)");
    let timeout = error(&mut waiter, "INSERT INTO t VALUES (2)");
    assert_eq!((timeout.code, &timeout.sql_state), (1205, b"HY000"));
    assert_eq!(error(&mut waiter, "BEGIN").code, 1205);
    assert_eq!(
        scalar(&mut waiter, "SELECT COUNT(*) FROM t"),
        "0",
        "readers are not blocked"
    );
    run(&mut holder, "COMMIT");
    run(&mut waiter, "INSERT INTO t VALUES (2)");
}

#[test]
fn autocommit_off_opens_transactions_implicitly() {
    let fixture = Fixture::new();
    let mut session = fixture.session("auto");
    let mut observer = fixture.session("auto");
    run(&mut session, "CREATE TABLE t (x INT)");
    run(&mut session, "SET autocommit = 0");
    assert!(!session.autocommit());
    assert_eq!(scalar(&mut session, "SELECT @@autocommit"), "0");
    run(&mut session, "INSERT INTO t VALUES (1)");
    assert!(session.in_transaction());
    assert_eq!(scalar(&mut observer, "SELECT COUNT(*) FROM t"), "0");
    run(&mut session, "COMMIT");
    assert_eq!(scalar(&mut observer, "SELECT COUNT(*) FROM t"), "1");
    run(&mut session, "INSERT INTO t VALUES (2)");
    assert!(
        session.in_transaction(),
        "the next statement opens the next transaction"
    );
    run(&mut session, "CREATE TABLE u (y INT)");
    assert_eq!(
        scalar(&mut observer, "SELECT COUNT(*) FROM t"),
        "2",
        "DDL commits implicitly"
    );
    run(&mut session, "INSERT INTO t VALUES (3)");
    run(&mut session, "SET autocommit = 1");
    assert!(!session.in_transaction());
    assert_eq!(
        scalar(&mut observer, "SELECT COUNT(*) FROM t"),
        "3",
        "autocommit=1 commits"
    );
}

#[test]
fn last_insert_id_follows_mysql() {
    let fixture = Fixture::new();
    let mut session = fixture.session("ids");
    run(&mut session, ITEMS);
    run(&mut session, "CREATE TABLE tags (name VARCHAR(20))");
    let multi = run(
        &mut session,
        "INSERT INTO items (name) VALUES ('a'), ('b'), ('c')",
    );
    assert_eq!(
        (affected(&multi), insert_id(&multi)),
        (3, 1),
        "the first id of a multi-row insert"
    );
    assert_eq!(scalar(&mut session, "SELECT LAST_INSERT_ID()"), "1");
    let plain = run(&mut session, "INSERT INTO tags VALUES ('x')");
    assert_eq!(insert_id(&plain), 0);
    assert_eq!(
        scalar(&mut session, "SELECT LAST_INSERT_ID()"),
        "1",
        "no AUTO_INCREMENT, no change"
    );
    run(&mut session, "UPDATE items SET qty = 5 WHERE id = 2");
    assert_eq!(scalar(&mut session, "SELECT LAST_INSERT_ID()"), "1");
    run(&mut session, "INSERT INTO items (name) VALUES ('d')");
    assert_eq!(scalar(&mut session, "SELECT LAST_INSERT_ID()"), "4");
    let mut other = fixture.session("ids");
    assert_eq!(
        scalar(&mut other, "SELECT LAST_INSERT_ID()"),
        "0",
        "per session"
    );
}

#[test]
fn found_rows_after_calc_found_rows() {
    let fixture = Fixture::new();
    let mut session = fixture.session("found");
    run(&mut session, "CREATE TABLE n (v INT)");
    run(
        &mut session,
        "INSERT INTO n VALUES (1), (2), (3), (4), (5), (6), (7)",
    );
    let page = rows(
        &mut session,
        "SELECT SQL_CALC_FOUND_ROWS v FROM n WHERE v > 1 ORDER BY v LIMIT 2, 2",
    );
    assert_eq!(page, [["4"], ["5"]]);
    assert_eq!(scalar(&mut session, "SELECT FOUND_ROWS()"), "6");
    rows(&mut session, "SELECT v FROM n LIMIT 3");
    assert_eq!(
        scalar(&mut session, "SELECT FOUND_ROWS()"),
        "3",
        "without CALC: the rows returned"
    );
}

#[test]
fn affected_rows_count_changes_like_mysql() {
    let fixture = Fixture::new();
    let mut session = fixture.session("counts");
    run(&mut session, ITEMS);
    run(
        &mut session,
        "INSERT INTO items (name, qty) VALUES ('a', 1), ('b', 1), ('c', 2)",
    );
    let update = run(&mut session, "UPDATE items SET qty = 1");
    assert_eq!(affected(&update), 1, "only the row whose value changed");
    let QueryResult::Ok { info, .. } = update else {
        panic!()
    };
    assert_eq!(info, "Rows matched: 3  Changed: 1  Warnings: 0");
    let upsert =
        "INSERT INTO items (name, qty) VALUES ('a', 9) ON DUPLICATE KEY UPDATE qty = VALUES(qty)";
    assert_eq!(
        affected(&run(&mut session, upsert)),
        2,
        "an upsert that updated counts 2"
    );
    assert_eq!(
        affected(&run(&mut session, upsert)),
        0,
        "an upsert that changed nothing counts 0"
    );
    let fresh = "INSERT INTO items (name, qty) VALUES ('z', 1) ON DUPLICATE KEY UPDATE qty = 1";
    assert_eq!(affected(&run(&mut session, fresh)), 1);
    assert_eq!(
        affected(&run(
            &mut session,
            "REPLACE INTO items (id, name, qty) VALUES (1, 'a', 3)"
        )),
        2
    );
    assert_eq!(
        affected(&run(
            &mut session,
            "INSERT IGNORE INTO items (name) VALUES ('a')"
        )),
        0
    );
    assert_eq!(affected(&run(&mut session, "DELETE FROM items")), 4);
    assert_eq!(
        scalar(&mut session, "SELECT ROW_COUNT()"),
        "4",
        "the DELETE's count"
    );
    assert_eq!(
        scalar(&mut session, "SELECT ROW_COUNT()"),
        "-1",
        "after a result set"
    );
}

#[test]
fn multi_statement_queries_stop_at_the_first_error() {
    let fixture = Fixture::new();
    let mut session = fixture.session("multi");
    let results = session
        .query("CREATE TABLE t (x INT); INSERT INTO t VALUES (1), (2); SELECT COUNT(*) FROM t");
    assert_eq!(results.len(), 3);
    let (_, counted) = result_set(results[2].clone().unwrap());
    assert_eq!(counted, [[Value::Int(2)]]);
    let failing =
        session.query("INSERT INTO t VALUES (3); SELECT * FROM nope; INSERT INTO t VALUES (4)");
    assert_eq!(failing.len(), 2);
    assert_eq!(failing[1].as_ref().unwrap_err().code, 1146);
    assert_eq!(scalar(&mut session, "SELECT COUNT(*) FROM t"), "3");
}

#[test]
fn prepared_statements_bind_parameters() {
    let fixture = Fixture::new();
    let mut session = fixture.session("prepared");
    run(&mut session, ITEMS);
    let insert = "INSERT INTO items (name, qty, price, note) VALUES (?, ?, ?, ?)";
    let prepared = session.prepare(insert).unwrap();
    assert_eq!(prepared.params, 4);
    let params = [
        Value::Bytes(b"kiwi".to_vec()),
        Value::Int(4),
        Value::Double(0.25),
        Value::Null,
    ];
    let inserted = session.execute(insert, &params).unwrap();
    assert_eq!(insert_id(&inserted), 1);
    let select = "SELECT name, qty FROM items WHERE name = ? AND qty >= ? LIMIT ?, ?";
    let described = session.prepare(select).unwrap();
    assert_eq!(described.params, 4);
    let names: Vec<&str> = described
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["name", "qty"]);
    let params = [
        Value::Bytes(b"KIWI".to_vec()),
        Value::Int(1),
        Value::Int(0),
        Value::Int(10),
    ];
    let (_, found) = result_set(session.execute(select, &params).unwrap());
    assert_eq!(
        found,
        [[Value::Bytes(b"kiwi".to_vec()), Value::Int(4)]],
        "text compares case-insensitively"
    );
    let too_few = session.execute(select, &[Value::Int(1)]).unwrap_err();
    assert_eq!(too_few.code, 1210);
    assert_eq!(
        session
            .prepare("SELECT * FROM missing WHERE x = ?")
            .unwrap_err()
            .code,
        1146
    );
}

#[test]
fn databases_are_files_created_on_first_use() {
    let fixture = Fixture::new();
    let mut session = fixture.backend.open_session("root", None).unwrap();
    assert_eq!(scalar(&mut session, "SELECT 1 + 1"), "2");
    assert_eq!(scalar(&mut session, "SELECT DATABASE()"), "NULL");
    assert_eq!(
        error(&mut session, "SELECT * FROM t").code,
        1046,
        "no database selected"
    );
    run(&mut session, "CREATE DATABASE shop");
    assert_eq!(error(&mut session, "CREATE DATABASE shop").code, 1007);
    run(&mut session, "CREATE DATABASE IF NOT EXISTS shop");
    run(&mut session, "USE shop");
    assert_eq!(scalar(&mut session, "SELECT DATABASE()"), "shop");
    run(&mut session, "CREATE TABLE t (x INT)");
    session.use_database("other").unwrap();
    assert!(fixture.dir.path().join("data/other.sqlite").is_file());
    assert_eq!(
        rows(&mut session, "SHOW DATABASES"),
        [["information_schema"], ["other"], ["shop"]]
    );
    assert_eq!(session.use_database("../etc").unwrap_err().code, 1102);
    run(&mut session, "DROP DATABASE shop");
    assert_eq!(error(&mut session, "DROP DATABASE shop").code, 1008);
    run(&mut session, "DROP DATABASE IF EXISTS shop");
    assert!(!fixture.dir.path().join("data/shop.sqlite").exists());
}

#[test]
fn unknown_databases_without_creation() {
    let fixture = Fixture::with(|config| config.create_databases = false);
    let failure = fixture
        .backend
        .open_session("root", Some("nope"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!((failure.code, &failure.sql_state), (1049, b"42000"));
    assert_eq!(failure.message, "Unknown database 'nope'");
    let mut session = fixture.backend.open_session("root", None).unwrap();
    assert_eq!(session.use_database("nope").unwrap_err().code, 1049);
    run(&mut session, "CREATE DATABASE made");
    session.use_database("made").unwrap();
}

#[test]
fn server_functions_and_variables() {
    let fixture = Fixture::new();
    let mut session = fixture.session("vars");
    assert!(scalar(&mut session, "SELECT VERSION()").starts_with("8.0"));
    assert_eq!(
        scalar(&mut session, "SELECT @@version"),
        scalar(&mut session, "SELECT VERSION()")
    );
    assert_eq!(
        scalar(&mut session, "SELECT @@SESSION.sql_mode"),
        "NO_ENGINE_SUBSTITUTION"
    );
    assert_eq!(
        scalar(&mut session, "SELECT @@character_set_client"),
        "utf8mb4"
    );
    assert_eq!(scalar(&mut session, "SELECT CONCAT('a', NULL)"), "NULL");
    assert_eq!(
        scalar(
            &mut session,
            "SELECT DATE_ADD('2024-01-31', INTERVAL 1 MONTH)"
        ),
        "2024-02-29"
    );
    assert_eq!(
        scalar(
            &mut session,
            "SELECT DATE_FORMAT('2024-03-09 14:05:07', '%Y/%m/%d')"
        ),
        "2024/03/09"
    );
    assert_eq!(scalar(&mut session, "SELECT IF(1 > 2, 'a', 'b')"), "b");
    assert_eq!(
        scalar(&mut session, "SELECT 'WordPress' REGEXP '^word'"),
        "1"
    );
    assert_eq!(scalar(&mut session, "SELECT GET_LOCK('job', 0)"), "1");
    run(&mut session, "SET NAMES utf8mb4");
    run(
        &mut session,
        "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'",
    );
}

#[test]
fn clients_cannot_create_databases_without_bound() {
    let fixture = Fixture::with(|config| config.max_databases = 2);
    let mut session = fixture.session("first");
    run(&mut session, "CREATE DATABASE second");
    let refused = error(&mut session, "CREATE DATABASE third");
    assert_eq!(refused.code, 1006, "{}", refused.message);
    let refused = error(&mut session, "USE fourth");
    assert_eq!(refused.code, 1006, "{}", refused.message);
    // Existing databases stay usable.
    run(&mut session, "USE second");
    run(&mut session, "CREATE TABLE t (id INT)");
    run(&mut session, "DROP DATABASE second");
    run(&mut session, "CREATE DATABASE third");
}

#[test]
fn an_endless_recursive_query_stops_at_the_result_limit() {
    let fixture = Fixture::with(|config| config.max_result_bytes = 1 << 20);
    let mut session = fixture.session("shop");
    let refused = error(
        &mut session,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
    );
    assert_eq!(refused.code, 1041, "{}", refused.message);
    assert_eq!(scalar(&mut session, "SELECT 1 + 1"), "2");
}

#[test]
fn a_statement_that_runs_too_long_is_interrupted() {
    let fixture = Fixture::with(|config| {
        config.max_statement_time = Some(std::time::Duration::from_millis(300));
    });
    let mut session = fixture.session("shop");
    let started = std::time::Instant::now();
    let refused = error(
        &mut session,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    );
    assert_eq!(refused.code, 1969, "{}", refused.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(scalar(&mut session, "SELECT 1 + 1"), "2");
}

#[test]
fn do_evaluates_and_answers_ok() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    assert_eq!(run(&mut session, "DO 1 + 1, 'x'"), QueryResult::ok(0));
    run(&mut session, "CREATE TABLE t (v INT)");
    assert_eq!(
        run(&mut session, "DO (SELECT COUNT(*) FROM t)"),
        QueryResult::ok(0)
    );
    assert_eq!(error(&mut session, "DO").code, 1064);
}

#[test]
fn client_found_rows_counts_matched_rows() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    run(&mut session, ITEMS);
    run(
        &mut session,
        "INSERT INTO items (name, qty) VALUES ('a', 1), ('b', 2)",
    );
    let unchanged = "UPDATE items SET qty = qty";
    assert_eq!(affected(&run(&mut session, unchanged)), 0);
    let client = dbwire::ClientInfo {
        capabilities: dbwire::protocol::constants::capabilities::FOUND_ROWS,
        ..dbwire::ClientInfo::default()
    };
    let mut session = fixture
        .backend
        .open_client_session("root", Some("shop"), &client)
        .unwrap();
    assert_eq!(affected(&run(&mut session, unchanged)), 2);
    let upsert = "INSERT INTO items (name, qty) VALUES ('a', 1) ON DUPLICATE KEY UPDATE qty = 1";
    assert_eq!(affected(&run(&mut session, upsert)), 1);
}

#[test]
fn read_only_transactions_refuse_writes() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    run(&mut session, ITEMS);
    run(&mut session, "START TRANSACTION READ ONLY");
    let refused = error(&mut session, "INSERT INTO items (name) VALUES ('a')");
    assert_eq!((refused.code, &refused.sql_state), (1792, b"25006"));
    assert_eq!(rows(&mut session, "SELECT COUNT(*) FROM items"), [["0"]]);
    run(&mut session, "COMMIT");
    run(&mut session, "INSERT INTO items (name) VALUES ('a')");
    run(
        &mut session,
        "START TRANSACTION READ WRITE, WITH CONSISTENT SNAPSHOT",
    );
    run(&mut session, "INSERT INTO items (name) VALUES ('b')");
    run(&mut session, "COMMIT");
    assert_eq!(rows(&mut session, "SELECT COUNT(*) FROM items"), [["2"]]);
}

#[test]
fn session_values_of_system_variables() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    run(
        &mut session,
        "SET SESSION sql_mode = 'no_backslash_escapes', @@session.wait_timeout = 100",
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT @@sql_mode, @@GLOBAL.sql_mode, @@wait_timeout, 'a\\nb', LENGTH('a\\nb')"
        ),
        [[
            "NO_BACKSLASH_ESCAPES",
            "NO_ENGINE_SUBSTITUTION",
            "100",
            "a\\nb",
            "4"
        ]]
    );
    run(&mut session, "SET sql_mode = DEFAULT");
    assert_eq!(
        rows(&mut session, "SELECT @@sql_mode, LENGTH('a\\nb')"),
        [["NO_ENGINE_SUBSTITUTION", "3"]]
    );
}

#[test]
fn user_variables() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    run(&mut session, ITEMS);
    run(
        &mut session,
        "INSERT INTO items (name, qty) VALUES ('a', 3), ('b', 1), ('c', 2)",
    );
    // What mysqldump writes at the top of a dump.
    run(
        &mut session,
        "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
    );
    run(&mut session, "SET @rank = 0, @Label = 'top'");
    assert_eq!(
        rows(
            &mut session,
            "SELECT name, @rank := @rank + 1, @label FROM items ORDER BY id"
        ),
        [["a", "1", "top"], ["b", "2", "top"], ["c", "3", "top"]]
    );
    assert_eq!(
        rows(&mut session, "SELECT @rank, @never_set, @OLD_UNIQUE_CHECKS"),
        [["3", "NULL", "1"]]
    );
    // Another session has its own.
    let mut other = fixture.session("shop");
    assert_eq!(rows(&mut other, "SELECT @rank"), [["NULL"]]);
}

#[test]
fn casts_warn_as_mysql_does() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    assert_eq!(
        rows(
            &mut session,
            "SELECT CAST('12abc' AS SIGNED), CAST(' 7 ' AS SIGNED), CAST(2.5 AS SIGNED), CAST('x' AS UNSIGNED)"
        ),
        [["12", "7", "3", "0"]]
    );
    assert_eq!(session.warning_count(), 2);
    assert_eq!(
        rows(&mut session, "SHOW WARNINGS"),
        [
            [
                "Warning",
                "1292",
                "Truncated incorrect INTEGER value: '12abc'"
            ],
            ["Warning", "1292", "Truncated incorrect INTEGER value: 'x'"]
        ]
    );
    // SHOW WARNINGS leaves them; the next statement clears them.
    assert_eq!(session.warning_count(), 2);
    run(&mut session, "DO 1");
    assert_eq!(session.warning_count(), 0);
    // The CAST keeps comparing numbers (INTEGER affinity), as WordPress meta queries expect.
    assert_eq!(
        rows(&mut session, "SELECT CAST('12' AS SIGNED) > '10'"),
        [["1"]]
    );
}

#[test]
fn unknown_system_variables_are_refused() {
    let fixture = Fixture::new();
    let mut session = fixture.session("shop");
    let refused = error(&mut session, "SET SESSION no_such_variable = 1");
    assert_eq!(refused.code, 1193);
    assert_eq!(
        refused.message,
        "Unknown system variable 'no_such_variable'"
    );
}
