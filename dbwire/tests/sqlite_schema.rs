//! SHOW, DESCRIBE, information_schema and ALTER TABLE answers of the SQLite backend.

mod sqlite_support;

use dbwire::Session;
use sqlite_support::{column_names, error, rows, run, scalar, Fixture};

const POSTS: &str = "CREATE TABLE wp_posts (
    ID bigint(20) unsigned NOT NULL auto_increment,
    post_author bigint(20) unsigned NOT NULL default '0',
    post_date datetime NOT NULL default '0000-00-00 00:00:00',
    post_title text NOT NULL,
    post_status varchar(20) NOT NULL default 'publish',
    post_name varchar(200) NOT NULL default '',
    menu_order int(11) NOT NULL default '0',
    PRIMARY KEY  (ID),
    KEY post_name (post_name(191)),
    KEY type_status_date (post_status,post_date,ID),
    KEY post_author (post_author)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci";

fn posts_session(fixture: &Fixture) -> dbwire::sqlite::SqliteSession {
    let mut session = fixture.session("wp");
    run(&mut session, POSTS);
    session
}

#[test]
fn show_tables() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    run(&mut session, "CREATE TABLE wp_options (option_id int)");
    run(
        &mut session,
        "CREATE VIEW recent AS SELECT ID FROM wp_posts",
    );
    assert_eq!(column_names(&mut session, "SHOW TABLES"), ["Tables_in_wp"]);
    assert_eq!(
        rows(&mut session, "SHOW TABLES"),
        [["recent"], ["wp_options"], ["wp_posts"]]
    );
    assert_eq!(
        rows(&mut session, "SHOW TABLES LIKE 'wp\\_o%'"),
        [["wp_options"]]
    );
    assert_eq!(
        rows(&mut session, "SHOW FULL TABLES"),
        [
            ["recent", "VIEW"],
            ["wp_options", "BASE TABLE"],
            ["wp_posts", "BASE TABLE"]
        ]
    );
}

#[test]
fn describe_and_show_columns() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    assert_eq!(
        column_names(&mut session, "DESCRIBE wp_posts"),
        ["Field", "Type", "Null", "Key", "Default", "Extra"]
    );
    assert_eq!(
        rows(&mut session, "DESCRIBE wp_posts"),
        [
            [
                "ID",
                "bigint unsigned",
                "NO",
                "PRI",
                "NULL",
                "auto_increment"
            ],
            ["post_author", "bigint(20) unsigned", "NO", "MUL", "0", ""],
            ["post_date", "datetime", "NO", "", "0000-00-00 00:00:00", ""],
            ["post_title", "text", "NO", "", "NULL", ""],
            ["post_status", "varchar(20)", "NO", "MUL", "publish", ""],
            ["post_name", "varchar(200)", "NO", "MUL", "", ""],
            ["menu_order", "int(11)", "NO", "", "0", ""],
        ]
    );
    let full = rows(
        &mut session,
        "SHOW FULL COLUMNS FROM wp_posts LIKE 'post_s%'",
    );
    assert_eq!(
        full,
        [[
            "post_status",
            "varchar(20)",
            "utf8mb4_general_ci",
            "NO",
            "MUL",
            "publish",
            "",
            "select,insert,update,references",
            ""
        ]]
    );
    assert_eq!(error(&mut session, "DESCRIBE nope").code, 1146);
    let fields = session.field_list("wp_posts").unwrap();
    assert_eq!(fields.len(), 7);
    assert_eq!(fields[0].table, "wp_posts");
}

#[test]
fn show_index() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    let index = rows(&mut session, "SHOW INDEX FROM wp_posts");
    let keys: Vec<(String, String, String, String)> = index
        .iter()
        .map(|row| {
            (
                row[1].clone(),
                row[2].clone(),
                row[3].clone(),
                row[4].clone(),
            )
        })
        .collect();
    let expect = |non_unique: &str, key: &str, seq: &str, column: &str| {
        (
            non_unique.to_owned(),
            key.to_owned(),
            seq.to_owned(),
            column.to_owned(),
        )
    };
    assert_eq!(keys[0], expect("0", "PRIMARY", "1", "ID"));
    for key in [
        expect("1", "post_name", "1", "post_name"),
        expect("1", "type_status_date", "1", "post_status"),
        expect("1", "type_status_date", "2", "post_date"),
        expect("1", "type_status_date", "3", "ID"),
        expect("1", "post_author", "1", "post_author"),
    ] {
        assert!(keys.contains(&key), "{key:?} missing from {keys:?}");
    }
}

#[test]
fn show_create_table_is_mysql_ddl() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    run(
        &mut session,
        "INSERT INTO wp_posts (post_title) VALUES ('hello')",
    );
    let create = rows(&mut session, "SHOW CREATE TABLE wp_posts");
    assert_eq!(create[0][0], "wp_posts");
    let ddl = &create[0][1];
    assert!(
        ddl.starts_with(
            "CREATE TABLE `wp_posts` (\n  `ID` bigint unsigned NOT NULL AUTO_INCREMENT,"
        ),
        "{ddl}"
    );
    assert!(
        ddl.contains("`post_status` varchar(20) NOT NULL DEFAULT 'publish'"),
        "{ddl}"
    );
    assert!(
        ddl.contains("`post_author` bigint(20) unsigned NOT NULL DEFAULT 0"),
        "{ddl}"
    );
    assert!(ddl.contains("PRIMARY KEY (`ID`)"), "{ddl}");
    assert!(
        ddl.contains("KEY `type_status_date` (`post_status`,`post_date`,`ID`)"),
        "{ddl}"
    );
    assert!(
        ddl.ends_with(
            "ENGINE=InnoDB AUTO_INCREMENT=2 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
        ),
        "{ddl}"
    );
}

#[test]
fn show_variables_status_and_more() {
    let fixture = Fixture::new();
    let mut session = fixture.session("misc");
    let charset = rows(&mut session, "SHOW VARIABLES LIKE 'character_set_%'");
    assert!(charset.contains(&vec![
        "character_set_client".to_owned(),
        "utf8mb4".to_owned()
    ]));
    assert_eq!(
        rows(&mut session, "SHOW VARIABLES LIKE 'max_allowed_packet'"),
        [["max_allowed_packet", "67108864"]]
    );
    assert_eq!(
        rows(
            &mut session,
            "SHOW SESSION VARIABLES LIKE 'lower_case_table_names'"
        ),
        [["lower_case_table_names", "0"]]
    );
    assert!(rows(&mut session, "SHOW WARNINGS").is_empty());
    assert_eq!(
        column_names(&mut session, "SHOW WARNINGS"),
        ["Level", "Code", "Message"]
    );
    assert_eq!(rows(&mut session, "SHOW ENGINES")[0][0], "InnoDB");
    assert!(rows(&mut session, "SHOW COLLATION")
        .iter()
        .any(|row| row[0] == "utf8mb4_general_ci"));
    assert!(
        rows(&mut session, "SHOW CREATE DATABASE misc")[0][1].starts_with("CREATE DATABASE `misc`")
    );
    run(
        &mut session,
        "CREATE TABLE t (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, v text)",
    );
    run(&mut session, "INSERT INTO t (v) VALUES ('a'), ('b')");
    let status = rows(&mut session, "SHOW TABLE STATUS LIKE 't'");
    assert_eq!(
        (
            status[0][0].as_str(),
            status[0][1].as_str(),
            status[0][4].as_str(),
            status[0][10].as_str()
        ),
        ("t", "InnoDB", "2", "3")
    );
}

#[test]
fn information_schema_lookups() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    assert_eq!(
        rows(
            &mut session,
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'wp'"
        ),
        [["wp_posts"]]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wp_posts' ORDER BY ORDINAL_POSITION LIMIT 2"
        ),
        [["ID", "bigint unsigned", "bigint", "NO"], ["post_author", "bigint(20) unsigned", "bigint", "NO"]]
    );
    assert_eq!(
        scalar(
            &mut session,
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_NAME = 'wp_posts'"
        ),
        "6"
    );
}

#[test]
fn alter_table_changes_columns_in_place_and_by_rebuild() {
    let fixture = Fixture::new();
    let mut session = posts_session(&fixture);
    run(
        &mut session,
        "INSERT INTO wp_posts (post_title, post_name) VALUES ('One', 'one'), ('Two', 'two')",
    );
    run(
        &mut session,
        "ALTER TABLE wp_posts ADD COLUMN comment_count bigint(20) NOT NULL default '0'",
    );
    run(
        &mut session,
        "ALTER TABLE wp_posts ADD INDEX title_idx (post_title(50))",
    );
    run(
        &mut session,
        "ALTER TABLE wp_posts CHANGE COLUMN post_name slug varchar(255) NOT NULL default ''",
    );
    run(
        &mut session,
        "ALTER TABLE wp_posts MODIFY menu_order bigint NOT NULL default '5'",
    );
    run(&mut session, "ALTER TABLE wp_posts DROP COLUMN post_author");
    assert_eq!(
        rows(
            &mut session,
            "SELECT ID, post_title, slug, menu_order, comment_count FROM wp_posts ORDER BY ID"
        ),
        [["1", "One", "one", "0", "0"], ["2", "Two", "two", "0", "0"]]
    );
    let fields: Vec<String> = rows(&mut session, "DESCRIBE wp_posts")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    assert_eq!(
        fields,
        [
            "ID",
            "post_date",
            "post_title",
            "post_status",
            "slug",
            "menu_order",
            "comment_count"
        ]
    );
    let keys: Vec<String> = rows(&mut session, "SHOW INDEX FROM wp_posts")
        .into_iter()
        .map(|row| row[2].clone())
        .collect();
    assert!(
        keys.contains(&"title_idx".to_owned()) && keys.contains(&"post_name".to_owned()),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"post_author".to_owned()),
        "the dropped column's index went: {keys:?}"
    );
    run(&mut session, "ALTER TABLE wp_posts DROP INDEX title_idx");
    assert_eq!(
        error(&mut session, "ALTER TABLE wp_posts DROP INDEX title_idx").code,
        1091
    );
    assert_eq!(
        error(&mut session, "ALTER TABLE wp_posts DROP COLUMN nope").code,
        1091
    );
    let inserted = run(
        &mut session,
        "INSERT INTO wp_posts (post_title) VALUES ('Three')",
    );
    assert_eq!(
        sqlite_support::insert_id(&inserted),
        3,
        "AUTO_INCREMENT survives the rebuild"
    );
    run(&mut session, "ALTER TABLE wp_posts RENAME TO wp_articles");
    assert_eq!(
        scalar(&mut session, "SELECT COUNT(*) FROM wp_articles"),
        "3"
    );
    let renamed: Vec<String> = rows(&mut session, "SHOW INDEX FROM wp_articles")
        .into_iter()
        .map(|row| row[2].clone())
        .collect();
    assert!(
        renamed.contains(&"type_status_date".to_owned()),
        "{renamed:?}"
    );
    run(&mut session, "TRUNCATE TABLE wp_articles");
    let after_truncate = run(
        &mut session,
        "INSERT INTO wp_articles (post_title) VALUES ('again')",
    );
    assert_eq!(
        sqlite_support::insert_id(&after_truncate),
        1,
        "TRUNCATE restarts AUTO_INCREMENT"
    );
}

#[test]
fn fulltext_search_survives_alter_and_drop() {
    let fixture = Fixture::new();
    let mut session = fixture.session("search");
    run(&mut session, "CREATE TABLE docs (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, title varchar(100), body text, FULLTEXT KEY ft (title, body))");
    run(
        &mut session,
        "INSERT INTO docs (title, body) VALUES ('Rust', 'fast and safe'), ('PHP', 'runs the web')",
    );
    let query = "SELECT title FROM docs WHERE MATCH (title, body) AGAINST ('safe')";
    assert_eq!(rows(&mut session, query), [["Rust"]]);
    run(
        &mut session,
        "REPLACE INTO docs (id, title, body) VALUES (1, 'Rust', 'quick')",
    );
    assert!(
        rows(&mut session, query).is_empty(),
        "REPLACE updates the index"
    );
    run(&mut session, "ALTER TABLE docs MODIFY title varchar(200)");
    assert_eq!(
        rows(
            &mut session,
            "SELECT title FROM docs WHERE MATCH (title, body) AGAINST ('web')"
        ),
        [["PHP"]]
    );
    assert_eq!(rows(&mut session, "SHOW TABLES"), [["docs"]]);
    run(&mut session, "DROP TABLE docs");
    assert!(rows(&mut session, "SHOW TABLES").is_empty());
    run(&mut session, "CREATE TABLE docs (id int)");
}
