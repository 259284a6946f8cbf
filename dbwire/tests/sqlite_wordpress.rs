//! The statements WordPress sends during installation and page views, with WordPress's own
//! table definitions, run against the SQLite backend.

mod sqlite_support;

use sqlite_support::{affected, insert_id, rows, run, scalar, Fixture};

const WP_OPTIONS: &str = "CREATE TABLE wp_options (
	option_id bigint(20) unsigned NOT NULL auto_increment,
	option_name varchar(191) NOT NULL default '',
	option_value longtext NOT NULL,
	autoload varchar(20) NOT NULL default 'yes',
	PRIMARY KEY  (option_id),
	UNIQUE KEY option_name (option_name),
	KEY autoload (autoload)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci";

const WP_POSTS: &str = "CREATE TABLE wp_posts (
	ID bigint(20) unsigned NOT NULL auto_increment,
	post_author bigint(20) unsigned NOT NULL default '0',
	post_date datetime NOT NULL default '0000-00-00 00:00:00',
	post_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
	post_content longtext NOT NULL,
	post_title text NOT NULL,
	post_status varchar(20) NOT NULL default 'publish',
	post_name varchar(200) NOT NULL default '',
	post_type varchar(20) NOT NULL default 'post',
	comment_count bigint(20) NOT NULL default '0',
	PRIMARY KEY  (ID),
	KEY post_name (post_name(191)),
	KEY type_status_date (post_type,post_status,post_date,ID),
	KEY post_author (post_author)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci";

fn add_option(session: &mut dbwire::sqlite::SqliteSession, name: &str, value: &str) -> u64 {
    let sql = format!(
        "INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('{name}', '{value}', 'yes') \
         ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), \
         `autoload` = VALUES(`autoload`)"
    );
    affected(&run(session, &sql))
}

#[test]
fn options_are_added_updated_and_loaded() {
    let fixture = Fixture::new();
    let mut session = fixture.session("wordpress");
    assert!(rows(&mut session, "SHOW TABLES LIKE 'wp\\_options'").is_empty());
    run(&mut session, WP_OPTIONS);
    assert_eq!(
        rows(&mut session, "SHOW TABLES LIKE 'wp\\_options'"),
        [["wp_options"]]
    );
    assert_eq!(
        add_option(&mut session, "siteurl", "http://example.test"),
        1
    );
    assert_eq!(add_option(&mut session, "blogname", "My Blog"), 1);
    assert_eq!(
        add_option(&mut session, "siteurl", "http://example.test/wp"),
        2,
        "updated an existing option"
    );
    assert_eq!(
        add_option(&mut session, "siteurl", "http://example.test/wp"),
        0,
        "nothing changed"
    );
    assert_eq!(
        rows(&mut session, "SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes' ORDER BY option_id"),
        [["siteurl", "http://example.test/wp"], ["blogname", "My Blog"]]
    );
    assert_eq!(
        scalar(
            &mut session,
            "SELECT option_value FROM wp_options WHERE option_name = 'SITEURL' LIMIT 1"
        ),
        "http://example.test/wp",
        "utf8mb4 collations compare case-insensitively"
    );
    let update = run(
        &mut session,
        "UPDATE `wp_options` SET `option_value` = 'Renamed' WHERE `option_name` = 'blogname'",
    );
    assert_eq!(affected(&update), 1);
    let transient = run(&mut session, "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('_transient_x', 'a:1:{i:0;s:1:\"y\";}', 'no')");
    assert_eq!(
        insert_id(&transient),
        5,
        "upserts that updated used ids, as InnoDB's do"
    );
    let removed = run(
        &mut session,
        "DELETE FROM wp_options WHERE option_name LIKE '\\_transient\\_%'",
    );
    assert_eq!(affected(&removed), 1);
    assert_eq!(scalar(&mut session, "SELECT COUNT(*) FROM wp_options"), "2");
}

#[test]
fn the_main_query_pages_posts() {
    let fixture = Fixture::new();
    let mut session = fixture.session("wordpress");
    run(&mut session, WP_POSTS);
    for day in 1..=12 {
        let status = if day % 4 == 0 { "draft" } else { "publish" };
        run(
            &mut session,
            &format!(
                "INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_title`, \
                 `post_status`, `post_name`) VALUES (1, '2024-01-{day:02} 10:00:00', '2024-01-{day:02} 10:00:00', \
                 'Body {day}', 'Post {day}', '{status}', 'post-{day}')"
            ),
        );
    }
    let page = rows(
        &mut session,
        "SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID FROM wp_posts  WHERE 1=1  AND ((wp_posts.post_type = 'post' \
         AND (wp_posts.post_status = 'publish'))) ORDER BY wp_posts.post_date DESC LIMIT 2, 3",
    );
    assert_eq!(
        page,
        [["9"], ["7"], ["6"]],
        "published: 11, 10, 9, 7, 6, 5, 3, 2, 1"
    );
    assert_eq!(scalar(&mut session, "SELECT FOUND_ROWS()"), "9");
    let post = rows(
        &mut session,
        "SELECT wp_posts.* FROM wp_posts WHERE 1=1 AND wp_posts.post_name = 'post-3' AND wp_posts.post_type = 'post' \
         ORDER BY wp_posts.post_date DESC",
    );
    assert_eq!(
        (
            post[0][0].as_str(),
            post[0][5].as_str(),
            post[0][3].as_str()
        ),
        ("3", "Post 3", "2024-01-03 10:00:00")
    );
    let archive = rows(
        &mut session,
        "SELECT YEAR(post_date) AS `year`, MONTH(post_date) AS `month`, count(ID) as posts FROM wp_posts \
         WHERE post_type = 'post' AND post_status = 'publish' GROUP BY YEAR(post_date), MONTH(post_date) \
         ORDER BY post_date DESC",
    );
    assert_eq!(archive, [["2024", "1", "9"]]);
    let search = rows(
        &mut session,
        "SELECT ID FROM wp_posts WHERE ((wp_posts.post_title LIKE '%post 1%') OR (wp_posts.post_content LIKE '%post 1%')) \
         AND post_status = 'publish' ORDER BY ID",
    );
    assert_eq!(search, [["1"], ["10"], ["11"]]);
    let counted = run(
        &mut session,
        "UPDATE wp_posts SET comment_count = 1 WHERE ID = 1",
    );
    assert_eq!(affected(&counted), 1);
    let draft = run(
        &mut session,
        "INSERT INTO wp_posts (post_content, post_title, post_status) VALUES ('', 'Auto Draft', 'auto-draft')",
    );
    assert_eq!(insert_id(&draft), 13);
    assert_eq!(
        scalar(
            &mut session,
            "SELECT post_date_gmt FROM wp_posts WHERE ID = 13"
        ),
        "0000-00-00 00:00:00"
    );
}

#[test]
fn db_delta_sees_an_unchanged_schema() {
    let fixture = Fixture::new();
    let mut session = fixture.session("wordpress");
    run(&mut session, WP_OPTIONS);
    let described = rows(&mut session, "DESCRIBE wp_options;");
    let types: Vec<(&str, &str)> = described
        .iter()
        .map(|row| (row[0].as_str(), row[1].as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("option_id", "bigint unsigned"),
            ("option_name", "varchar(191)"),
            ("option_value", "longtext"),
            ("autoload", "varchar(20)")
        ]
    );
    let indexes = rows(&mut session, "SHOW INDEX FROM wp_options;");
    let keys: Vec<(&str, &str, &str)> = indexes
        .iter()
        .map(|row| (row[2].as_str(), row[4].as_str(), row[1].as_str()))
        .collect();
    assert_eq!(keys[0], ("PRIMARY", "option_id", "0"));
    assert!(
        keys.contains(&("option_name", "option_name", "0")),
        "{keys:?}"
    );
    assert!(keys.contains(&("autoload", "autoload", "1")), "{keys:?}");
    assert_eq!(
        scalar(&mut session, "SELECT @@SESSION.sql_mode"),
        "NO_ENGINE_SUBSTITUTION"
    );
    run(
        &mut session,
        "SET SESSION sql_mode='NO_ENGINE_SUBSTITUTION'",
    );
    run(
        &mut session,
        "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_520_ci'",
    );
}
