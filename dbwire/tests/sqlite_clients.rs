//! Real clients against the MySQL server with the SQLite backend: the `mysql` command-line
//! client, and PHP's mysqlnd (PDO with server-side prepared statements, and mysqli) through
//! the ePHPm binary (`cargo build --release` in the workspace root, or `DBWIRE_EPHPM_BIN`).

#[path = "support/php.rs"]
mod php;
mod sqlite_support;

use std::process::{Command, Output};

use sqlite_support::SqliteServer;

/// The `mysql` command-line client against a server.
trait MysqlCli {
    /// Runs `sql` with the `mysql` client in batch mode on database `shop`.
    fn mysql(&self, sql: &str) -> Output;
}

impl MysqlCli for SqliteServer {
    fn mysql(&self, sql: &str) -> Output {
        Command::new("mysql")
            .args(["--protocol=TCP", "-h", "127.0.0.1", "-u", "root", "--batch"])
            .arg(format!("--port={}", self.port()))
            .args(["-D", "shop", "-e", sql])
            .output()
            .expect("the `mysql` client is not installed (apt-get install mariadb-client)")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_mysql_client_works_against_sqlite() {
    let server = SqliteServer::start();
    let setup = server.mysql(
        "CREATE TABLE items (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE, \
         price DECIMAL(8,2)); INSERT INTO items (name, price) VALUES ('apple', 1.5), ('pear', NULL);",
    );
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let selected = server.mysql("SELECT id, name, price FROM items ORDER BY id");
    assert_eq!(
        stdout(&selected),
        "id\tname\tprice\n1\tapple\t1.50\n2\tpear\tNULL\n"
    );
    let described = server.mysql("DESCRIBE items");
    assert!(
        stdout(&described).contains("name\tvarchar(50)\tNO\tUNI\t\t"),
        "{}",
        stdout(&described)
    );
    let duplicate = server.mysql("INSERT INTO items (name) VALUES ('apple')");
    assert!(!duplicate.status.success());
    let message = String::from_utf8_lossy(&duplicate.stderr);
    assert!(message.contains("ERROR 1062 (23000)"), "{message}");
    let tables = server.mysql("SHOW TABLES");
    assert_eq!(stdout(&tables), "Tables_in_shop\nitems\n");
}

fn run_php(server: &SqliteServer, body: &str) {
    php::run_php("", body, server.port());
}

#[test]
fn pdo_with_server_side_prepares() {
    let server = SqliteServer::start();
    run_php(
        &server,
        r#"
$pdo = new PDO('mysql:host=127.0.0.1;port={PORT};dbname=shop;charset=utf8mb4', 'root', '', [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::ATTR_EMULATE_PREPARES => false,
]);
$pdo->exec("CREATE TABLE posts (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title VARCHAR(100) NOT NULL, views INT NOT NULL DEFAULT 0, score DOUBLE, body LONGTEXT,
    created DATETIME NOT NULL, UNIQUE KEY title (title))");
$insert = $pdo->prepare('INSERT INTO posts (title, views, score, body, created) VALUES (?, ?, ?, ?, ?)');
$insert->execute(['First', 3, 1.5, null, '2024-03-09 14:05:07']);
same('1', $pdo->lastInsertId(), 'lastInsertId');
$insert->execute(['Second', 0, null, str_repeat('x', 100000), '2024-03-10 08:00:00']);
same('2', $pdo->lastInsertId(), 'second lastInsertId');
$select = $pdo->prepare('SELECT id, title, views, score, body, created FROM posts WHERE title = ?');
$select->execute(['first']);
$row = $select->fetch(PDO::FETCH_ASSOC);
same(1, $row['id'], 'native integer id');
same(3, $row['views'], 'native integer');
same(1.5, $row['score'], 'native double');
same(null, $row['body'], 'NULL');
same('2024-03-09 14:05:07', $row['created'], 'datetime text');
$update = $pdo->prepare('UPDATE posts SET views = ? WHERE id = ?');
$update->execute([3, 1]);
same(0, $update->rowCount(), 'unchanged rows are not affected');
$update->execute([4, 1]);
same(1, $update->rowCount(), 'changed row');
try {
    $insert->execute(['First', 1, 1.0, '', '2024-01-01 00:00:00']);
    same(true, false, 'duplicate must fail');
} catch (PDOException $e) {
    same('23000', $e->getCode(), 'SQLSTATE');
    same(1062, $e->errorInfo[1], 'MySQL error code');
}
$pdo->beginTransaction();
$pdo->exec("INSERT INTO posts (title, created) VALUES ('Third', '2024-03-11 00:00:00')");
$pdo->rollBack();
same(2, $pdo->query('SELECT COUNT(*) FROM posts')->fetchColumn(), 'rolled back');
$page = $pdo->query('SELECT SQL_CALC_FOUND_ROWS id FROM posts ORDER BY id LIMIT 1')->fetchAll(PDO::FETCH_COLUMN);
same([1], $page, 'page');
same(2, $pdo->query('SELECT FOUND_ROWS()')->fetchColumn(), 'FOUND_ROWS');
"#,
    );
}

#[test]
fn mysqli_wordpress_style() {
    let server = SqliteServer::start();
    run_php(
        &server,
        r#"
mysqli_report(MYSQLI_REPORT_OFF);
$db = mysqli_init();
same(true, mysqli_real_connect($db, '127.0.0.1', 'root', '', 'wordpress', {PORT}), 'connect');
mysqli_set_charset($db, 'utf8mb4');
same(true, mysqli_select_db($db, 'wordpress'), 'select_db');
mysqli_query($db, "CREATE TABLE wp_options (
    option_id bigint(20) unsigned NOT NULL auto_increment,
    option_name varchar(191) NOT NULL default '',
    option_value longtext NOT NULL,
    autoload varchar(20) NOT NULL default 'yes',
    PRIMARY KEY  (option_id),
    UNIQUE KEY option_name (option_name),
    KEY autoload (autoload)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci");
same('', mysqli_error($db), 'create table');
$upsert = "INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('blogname', 'My Site', 'yes') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)";
same(true, mysqli_query($db, $upsert), 'upsert');
same(1, mysqli_affected_rows($db), 'inserted');
same(1, mysqli_insert_id($db), 'insert id');
same(true, mysqli_query($db, str_replace('My Site', 'Renamed', $upsert)), 'upsert again');
same(2, mysqli_affected_rows($db), 'updated');
$result = mysqli_query($db, "SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'");
same(['option_name' => 'blogname', 'option_value' => 'Renamed'], mysqli_fetch_assoc($result), 'autoload');
$result = mysqli_query($db, 'SELECT @@SESSION.sql_mode');
same('NO_ENGINE_SUBSTITUTION', mysqli_fetch_row($result)[0], 'sql_mode');
same(true, mysqli_query($db, "SET SESSION sql_mode='NO_ENGINE_SUBSTITUTION'"), 'set sql_mode');
same(false, mysqli_query($db, 'SELECT * FROM wp_nothing'), 'missing table');
same(1146, mysqli_errno($db), 'errno');
$result = mysqli_query($db, 'SHOW FULL COLUMNS FROM `wp_options`');
$charsets = [];
while ($column = mysqli_fetch_object($result)) {
    $charsets[$column->Field] = $column->Collation;
}
same('utf8mb4_general_ci', $charsets['option_value'], 'column collation');
"#,
    );
}
