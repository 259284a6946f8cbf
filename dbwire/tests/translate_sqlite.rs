//! MySQL statements translated by `dbwire::sqlite::translate` and run on SQLite: the expected
//! translations of `fixtures/translate/pairs.txt` and of WordPress's schema, every one executed
//! on an in-memory database (with stand-ins for the backend's user functions), and checks that
//! the translations behave like MySQL.

use std::path::PathBuf;

use dbwire::sqlite::translate::{
    found_rows_query, fts_query, translate, Statement, Step, USER_FUNCTIONS,
};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

fn fixture(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "translate",
        name,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An in-memory database with stand-ins for the user functions the backend registers.
fn connection() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    let flags = FunctionFlags::SQLITE_UTF8;
    for name in USER_FUNCTIONS {
        conn.create_scalar_function(*name, -1, flags, first_argument)
            .unwrap();
    }
    conn.create_scalar_function("concat", -1, flags, concat)
        .unwrap();
    conn.create_scalar_function("database", 0, flags, |_| Ok("wordpress"))
        .unwrap();
    conn.create_scalar_function("now", 0, flags, |_| Ok("2024-05-06 07:08:09"))
        .unwrap();
    conn.create_scalar_function("fts_query", 2, flags, |ctx| {
        Ok(fts_query(&ctx.get::<String>(0)?, ctx.get::<i64>(1)? != 0))
    })
    .unwrap();
    conn.create_scalar_function("mysql_data_type", 2, flags, |ctx| {
        let declared = ctx.get::<String>(0)?.to_lowercase();
        Ok(declared
            .split([' ', '('])
            .next()
            .unwrap_or_default()
            .to_owned())
    })
    .unwrap();
    conn.create_scalar_function("mysql_column_type", 2, flags, |ctx| {
        Ok(ctx.get::<String>(0)?.to_lowercase())
    })
    .unwrap();
    conn
}

fn first_argument(ctx: &mut Context<'_>) -> rusqlite::Result<Value> {
    if ctx.is_empty() {
        Ok(Value::Null)
    } else {
        ctx.get::<Value>(0)
    }
}

fn concat(ctx: &mut Context<'_>) -> rusqlite::Result<Value> {
    let mut text = String::new();
    for index in 0..ctx.len() {
        match ctx.get_raw(index) {
            ValueRef::Null => return Ok(Value::Null),
            ValueRef::Integer(i) => text.push_str(&i.to_string()),
            ValueRef::Real(r) => text.push_str(&r.to_string()),
            ValueRef::Text(t) | ValueRef::Blob(t) => text.push_str(&String::from_utf8_lossy(t)),
        }
    }
    Ok(Value::Text(text))
}

/// Runs one SQLite statement with `params` bound to `?1`, `?2`, ...; returns the rows it
/// produced and the rows it changed.
fn run_sql(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<(Vec<Vec<Value>>, u64)> {
    let mut statement = conn.prepare(sql)?;
    for index in 1..=statement.parameter_count() {
        let value = params
            .get(index - 1)
            .cloned()
            .unwrap_or(Value::Integer(index as i64));
        statement.raw_bind_parameter(index, value)?;
    }
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut result = Vec::new();
    while let Some(row) = rows.next()? {
        result.push(
            (0..columns)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<_, _>>()?,
        );
    }
    Ok((result, conn.changes()))
}

/// Runs a translated statement; returns its rows and affected rows the way the backend counts
/// them (script steps with `counts_rows`).
fn run(
    conn: &Connection,
    statement: &Statement,
    params: &[Value],
) -> rusqlite::Result<(Vec<Vec<Value>>, u64)> {
    match statement {
        Statement::Sql { sql, .. } => run_sql(conn, sql, params),
        Statement::Script { steps, .. } => {
            let mut affected = 0;
            for Step { sql, counts_rows } in steps {
                let (_, changed) = run_sql(conn, sql, params)?;
                if *counts_rows {
                    affected += changed;
                }
            }
            Ok((Vec::new(), affected))
        }
        _ => Ok((Vec::new(), 0)),
    }
}

fn translate_one(mysql: &str) -> Statement {
    let mut statements = translate(mysql).unwrap_or_else(|e| panic!("{mysql}: {e}"));
    assert_eq!(statements.len(), 1, "{mysql}");
    statements.remove(0)
}

/// Translates and runs `mysql`, returning rows and affected rows.
fn exec(conn: &Connection, mysql: &str, params: &[Value]) -> (Vec<Vec<Value>>, u64) {
    let statement = translate_one(mysql);
    run(conn, &statement, params).unwrap_or_else(|e| panic!("{mysql}\n{statement:?}\n{e}"))
}

/// The `sqlite:`/`result:`/`error:` lines a translation is written as in the fixtures.
fn rendered(mysql: &str) -> (Vec<String>, Vec<Statement>) {
    match translate(mysql) {
        Ok(statements) => {
            let mut lines = Vec::new();
            for statement in &statements {
                match statement {
                    Statement::Sql { sql, .. } => lines.push(format!("sqlite: {sql}")),
                    Statement::Script { steps, .. } => {
                        lines.extend(steps.iter().map(|step| format!("sqlite: {}", step.sql)));
                    }
                    other => lines.push(format!("result: {other:?}")),
                }
            }
            (lines, statements)
        }
        Err(error) => (vec![format!("error: {}", error.code)], Vec::new()),
    }
}

/// WordPress's CREATE TABLE statements, read from Debian's `wordpress` package (installed by
/// scripts/test.sh), rendered as `wp_get_db_schema('all')` does for a multisite install with the
/// `wp_` prefix and utf8mb4. (Read at test time: no WordPress text is kept in this repository.)
fn wordpress_schema() -> String {
    const SCHEMA: &str = "/usr/share/wordpress/wp-admin/includes/schema.php";
    const END: &str = ") $charset_collate;";
    let source = std::fs::read_to_string(SCHEMA)
        .unwrap_or_else(|e| panic!("{SCHEMA}: {e} (apt-get install wordpress)"));
    let mut blocks = Vec::new();
    let mut rest = source.as_str();
    while let Some(start) = rest.find("CREATE TABLE $wpdb->") {
        let tail = &rest[start..];
        let end = tail
            .find(END)
            .expect("every CREATE TABLE ends with $charset_collate")
            + END.len();
        blocks.push(&tail[..end]);
        rest = &tail[end..];
    }
    // In the file: 10 per-site tables, users (single site), users (multisite), usermeta, then
    // the 6 multisite tables. 'all' puts the global tables first.
    assert_eq!(blocks.len(), 19, "unexpected schema.php layout");
    [&blocks[11..13], &blocks[0..10], &blocks[13..]]
        .concat()
        .iter()
        .map(|block| {
            block
                .replace("$wpdb->", "wp_")
                .replace(
                    "$charset_collate",
                    "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
                )
                .replace("$max_index_length", "191")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn wordpress(conn: &Connection) {
    for statement in translate(&wordpress_schema()).unwrap() {
        run(conn, &statement, &[]).unwrap_or_else(|e| panic!("{statement:?}: {e}"));
    }
}

/// (mysql, expected lines) blocks of a pairs fixture.
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        match line.strip_prefix("mysql: ") {
            Some(mysql) => blocks.push((mysql.to_owned(), Vec::new())),
            None => blocks
                .last_mut()
                .expect("expected lines before any mysql: line")
                .1
                .push(line.to_owned()),
        }
    }
    blocks
}

#[test]
fn pairs_translate_as_expected_and_run_on_sqlite() {
    let conn = connection();
    wordpress(&conn);
    let mut failures = Vec::new();
    let pairs = blocks(&fixture("pairs.txt"));
    assert!(pairs.len() > 150, "only {} pairs", pairs.len());
    for (mysql, expected) in pairs {
        let (lines, statements) = rendered(&mysql);
        if lines != expected {
            failures.push(format!(
                "mysql: {mysql}\nexpected:\n{}\nactual:\n{}",
                expected.join("\n"),
                lines.join("\n")
            ));
            continue;
        }
        for statement in &statements {
            if let Err(error) = run(&conn, statement, &[]) {
                failures.push(format!(
                    "mysql: {mysql}\nSQLite rejected {statement:?}: {error}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn wordpress_schema_translates_as_expected_and_runs() {
    let translated = wordpress_schema();
    let (lines, _) = rendered(&translated);
    let expected: Vec<String> = fixture("wordpress-schema.expected.txt")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines, expected);
    let conn = connection();
    wordpress(&conn);
    let (tables, _) = exec(
        &conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES ORDER BY TABLE_NAME",
        &[],
    );
    assert_eq!(tables.len(), 18);
    let (keys, _) = exec(
        &conn,
        "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS \
         WHERE TABLE_NAME = 'wp_options' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        &[],
    );
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    };
    let keys: Vec<String> = keys
        .iter()
        .map(|row| row.iter().map(text).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        keys,
        [
            "PRIMARY option_id 0",
            "autoload autoload 1",
            "option_name option_name 0"
        ]
    );
    // Installing runs dbDelta twice: the second CREATE TABLE IF NOT EXISTS must be harmless.
    exec(&conn, "CREATE TABLE IF NOT EXISTS wp_options (option_id bigint(20) unsigned NOT NULL auto_increment, option_name varchar(191) NOT NULL default '', PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name))", &[]);
}

#[test]
fn wordpress_rows_behave_like_mysql() {
    let conn = connection();
    wordpress(&conn);
    // NOT NULL columns without a DEFAULT take MySQL's implicit one; the ID is generated.
    exec(
        &conn,
        "INSERT INTO wp_posts (post_title, post_name) VALUES ('Hello', 'hello-world')",
        &[],
    );
    assert_eq!(conn.last_insert_rowid(), 1);
    let (rows, _) = exec(
        &conn,
        "SELECT post_content, post_date, comment_count FROM wp_posts WHERE ID = 1",
        &[],
    );
    assert_eq!(
        rows,
        [[
            Value::Text(String::new()),
            Value::Text("0000-00-00 00:00:00".into()),
            Value::Integer(0)
        ]]
    );
    // Text comparison ignores case, as with MySQL's default collation.
    let (rows, _) = exec(
        &conn,
        "SELECT ID FROM wp_posts WHERE post_name = 'HELLO-WORLD'",
        &[],
    );
    assert_eq!(rows.len(), 1);
    // LIKE escapes with a backslash.
    for name in ["a_b1", "axb2"] {
        exec(
            &conn,
            "INSERT INTO wp_options (option_name, option_value) VALUES (?, '')",
            &[Value::Text(name.into())],
        );
    }
    let (rows, _) = exec(
        &conn,
        "SELECT option_name FROM wp_options WHERE option_name LIKE 'a\\_b%'",
        &[],
    );
    assert_eq!(rows, [[Value::Text("a_b1".into())]]);
    // add_option/update_option's upsert.
    let upsert =
        "INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES (?, ?, ?) \
                  ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), \
                  `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)";
    for value in ["one", "two"] {
        exec(
            &conn,
            upsert,
            &[
                Value::Text("siteurl".into()),
                Value::Text(value.into()),
                Value::Text("yes".into()),
            ],
        );
    }
    let (rows, _) = exec(
        &conn,
        "SELECT option_value FROM wp_options WHERE option_name = 'SITEURL'",
        &[],
    );
    assert_eq!(rows, [[Value::Text("two".into())]]);
    // INSERT IGNORE keeps the first row.
    exec(
        &conn,
        "INSERT IGNORE INTO wp_options (option_name, option_value) VALUES ('siteurl', 'three')",
        &[],
    );
    let (rows, _) = exec(
        &conn,
        "SELECT COUNT(*) FROM wp_options WHERE option_name = 'siteurl'",
        &[],
    );
    assert_eq!(rows, [[Value::Integer(1)]]);
}

#[test]
fn expired_transients_are_deleted_in_pairs() {
    let conn = connection();
    wordpress(&conn);
    for (name, value) in [
        ("_transient_old", "x"),
        ("_transient_timeout_old", "100"),
        ("_transient_new", "y"),
        ("_transient_timeout_new", "999999"),
        ("other", "z"),
    ] {
        exec(
            &conn,
            "INSERT INTO wp_options (option_name, option_value) VALUES (?, ?)",
            &[Value::Text(name.into()), Value::Text(value.into())],
        );
    }
    let delete = "DELETE a, b FROM wp_options a, wp_options b WHERE a.option_name LIKE '\\_transient\\_%' \
                  AND a.option_name NOT LIKE '\\_transient\\_timeout\\_%' \
                  AND b.option_name = CONCAT( '_transient_timeout_', SUBSTRING( a.option_name, 12 ) ) \
                  AND b.option_value < ?";
    let (_, affected) = exec(&conn, delete, &[Value::Integer(500)]);
    assert_eq!(affected, 2);
    let (rows, _) = exec(
        &conn,
        "SELECT option_name FROM wp_options ORDER BY option_name",
        &[],
    );
    let names: Vec<&Value> = rows.iter().map(|row| &row[0]).collect();
    assert_eq!(
        names,
        [
            &Value::Text("_transient_new".into()),
            &Value::Text("_transient_timeout_new".into()),
            &Value::Text("other".into())
        ]
    );
}

#[test]
fn limits_found_rows_and_ordered_updates() {
    let conn = connection();
    exec(
        &conn,
        "CREATE TABLE n (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, v int)",
        &[],
    );
    for v in 1..=5 {
        exec(&conn, "INSERT INTO n SET v = ?", &[Value::Integer(v)]);
    }
    let select =
        translate_one("SELECT SQL_CALC_FOUND_ROWS v FROM n WHERE v > ? ORDER BY v LIMIT ?, ?");
    let params = [Value::Integer(1), Value::Integer(1), Value::Integer(2)];
    let (rows, _) = run(&conn, &select, &params).unwrap();
    assert_eq!(rows, [[Value::Integer(3)], [Value::Integer(4)]]);
    let Statement::Sql { sql, .. } = &select else {
        panic!("{select:?}")
    };
    let count = found_rows_query(sql).unwrap();
    let (rows, _) = run_sql(&conn, &count, &params).unwrap();
    assert_eq!(rows, [[Value::Integer(4)]]);
    let (_, affected) = exec(&conn, "UPDATE n SET v = 0 ORDER BY v DESC LIMIT 2", &[]);
    assert_eq!(affected, 2);
    exec(&conn, "DELETE FROM n WHERE v > 0 ORDER BY v LIMIT 1", &[]);
    let (rows, _) = exec(&conn, "SELECT v FROM n ORDER BY id", &[]);
    assert_eq!(
        rows,
        [
            [Value::Integer(2)],
            [Value::Integer(3)],
            [Value::Integer(0)],
            [Value::Integer(0)]
        ]
    );
}

#[test]
fn fulltext_search_follows_the_table() {
    let conn = connection();
    exec(
        &conn,
        "CREATE TABLE docs (id int NOT NULL AUTO_INCREMENT, title varchar(100), body text, \
         PRIMARY KEY (id), FULLTEXT KEY search (title, body)) ENGINE=InnoDB",
        &[],
    );
    for (title, body) in [
        ("Rust servers", "glommio and io_uring"),
        ("PHP", "WordPress on SQLite"),
        ("Café", "crème brûlée"),
    ] {
        exec(
            &conn,
            "INSERT INTO docs (title, body) VALUES (?, ?)",
            &[Value::Text(title.into()), Value::Text(body.into())],
        );
    }
    let search = "SELECT id FROM docs WHERE MATCH (title, body) AGAINST (?) ORDER BY id";
    let ids = |conn: &Connection, query: &str| -> Vec<Value> {
        exec(conn, search, &[Value::Text(query.into())])
            .0
            .into_iter()
            .map(|mut row| row.remove(0))
            .collect()
    };
    assert_eq!(ids(&conn, "wordpress"), [Value::Integer(2)]);
    assert_eq!(
        ids(&conn, "rust sqlite"),
        [Value::Integer(1), Value::Integer(2)]
    );
    assert_eq!(ids(&conn, "cafe"), [Value::Integer(3)]);
    assert_eq!(ids(&conn, "!!!"), Vec::<Value>::new());
    let boolean = "SELECT id FROM docs WHERE MATCH (body, title) AGAINST (? IN BOOLEAN MODE)";
    let (rows, _) = exec(&conn, boolean, &[Value::Text("+wordpress -rust".into())]);
    assert_eq!(rows, [[Value::Integer(2)]]);
    exec(
        &conn,
        "UPDATE docs SET body = 'nothing here' WHERE id = 2",
        &[],
    );
    assert_eq!(ids(&conn, "wordpress"), Vec::<Value>::new());
    exec(&conn, "DELETE FROM docs WHERE id = 1", &[]);
    assert_eq!(ids(&conn, "rust"), Vec::<Value>::new());
    let (rows, _) = exec(
        &conn,
        "SELECT MATCH (title, body) AGAINST ('php') > 0 FROM docs WHERE id = 2",
        &[],
    );
    assert_eq!(rows, [[Value::Integer(1)]]);
}

#[test]
fn on_update_current_timestamp_is_emulated() {
    let conn = connection();
    exec(
        &conn,
        "CREATE TABLE s (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, v int, \
         changed timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        &[],
    );
    exec(
        &conn,
        "INSERT INTO s (v, changed) VALUES (1, '2000-01-01 00:00:00')",
        &[],
    );
    exec(&conn, "UPDATE s SET v = 2", &[]);
    let (rows, _) = exec(&conn, "SELECT changed FROM s", &[]);
    assert_ne!(rows, [[Value::Text("2000-01-01 00:00:00".into())]]);
    exec(
        &conn,
        "UPDATE s SET v = 3, changed = '2001-01-01 00:00:00'",
        &[],
    );
    let (rows, _) = exec(&conn, "SELECT changed FROM s", &[]);
    assert_eq!(rows, [[Value::Text("2001-01-01 00:00:00".into())]]);
}

#[test]
fn information_schema_answers_laravel() {
    let conn = connection();
    exec(&conn, "create table `migrations` (`id` int unsigned not null auto_increment primary key, `migration` varchar(255) not null, `batch` int not null) default character set utf8mb4 collate 'utf8mb4_unicode_ci'", &[]);
    let exists = "select exists (select 1 from information_schema.tables where table_schema = ? and table_name = ? and table_type in ('BASE TABLE', 'SYSTEM VERSIONED')) as `exists`";
    let (rows, _) = exec(
        &conn,
        exists,
        &[
            Value::Text("wordpress".into()),
            Value::Text("migrations".into()),
        ],
    );
    assert_eq!(rows, [[Value::Integer(1)]]);
    let columns = "select column_name as `name`, column_type as `type`, is_nullable as `nullable`, extra as `extra` \
                   from information_schema.columns where table_schema = 'wordpress' and table_name = 'migrations' \
                   order by ordinal_position asc";
    let (rows, _) = exec(&conn, columns, &[]);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        [
            Value::Text("id".into()),
            Value::Text("integer".into()),
            Value::Text("NO".into()),
            Value::Text("auto_increment".into())
        ]
    );
    assert_eq!(rows[2][1], Value::Text("int".into()));
}

#[test]
fn every_statement_fails_cleanly_or_translates() {
    // Garbage and truncated statements must give MySQL errors, never panics.
    for sql in [
        "",
        " ; ",
        "SELECT",
        "SELECT * FROM",
        "INSERT INTO t VALUES (",
        "\u{0}",
        "ALTER TABLE",
        "SHOW",
        "(((((",
        "SELECT 1 +",
    ] {
        match translate(sql) {
            Ok(statements) => assert!(!statements.is_empty()),
            Err(error) => assert!(matches!(error.code, 1064 | 1065 | 1235), "{sql:?}: {error}"),
        }
    }
    let deep = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(translate(&deep).unwrap_err().code, 1064);
}
