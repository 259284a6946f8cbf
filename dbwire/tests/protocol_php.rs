//! PHP's mysqlnd (PDO and mysqli, as built into ePHPm) against the in-memory backend: text
//! and prepared statements, native types, NULLs, errors, multiple result sets, 20 MiB blobs.
//!
//! Needs the ePHPm release binary (`cargo build --release` in the workspace root, or
//! `DBWIRE_EPHPM_BIN`); without it these tests fail with a message saying so.

mod support;

use dbwire::auth::AuthPlugin;
use dbwire::server::ServerConfig;
use support::TestServer;

/// Connection helpers for the scripts (after support::php's assertion helpers).
const PRELUDE: &str = r#"function pdo_connect($user = 'root', $password = '', $emulate = false) {
    return new PDO('mysql:host=127.0.0.1;port={PORT};dbname=test;charset=utf8mb4', $user, $password, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => $emulate,
    ]);
}
function mysqli_connect_test($user = 'root', $password = '') {
    mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
    return new mysqli('127.0.0.1', $user, $password, 'test', {PORT});
}
function big_blob() {
    $chunk = '';
    for ($i = 0; $i < 251; $i++) {
        $chunk .= chr($i);
    }
    return substr(str_repeat($chunk, intdiv(20 * 1024 * 1024, 251) + 1), 0, 20 * 1024 * 1024);
}
"#;

/// Runs `body` (PHP without the opening tag) after the prelude; it must print `PASS` last.
fn run_php(server: &TestServer, body: &str) {
    support::php::run_php(PRELUDE, body, server.port);
}

#[test]
fn pdo_prepared_statements_return_native_types() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$pdo = pdo_connect('app', 'secret');
same('8.0.35-ePHPm', $pdo->getAttribute(PDO::ATTR_SERVER_VERSION), 'server version');
$st = $pdo->prepare('SELECT * FROM typed');
$st->execute();
$rows = $st->fetchAll(PDO::FETCH_ASSOC);
same([
    'id' => 1, 'tiny' => -128, 'small' => 32767, 'medium' => -8388608, 'int' => 2147483647,
    'big' => PHP_INT_MIN, 'ubig' => '18446744073709551615', 'flt' => 1.5, 'dbl' => -0.00225,
    'dec' => '12345.67', 'd' => '2024-02-29', 'dt' => '2024-02-29 13:14:15.123456',
    'ts' => '1970-01-01 00:00:01', 'tm' => '-838:59:59', 'yr' => 2024,
    'name' => 'héllo wörld ☃', 'bin' => "\x00\x01\x02\xff\xfe", 'txt' => 'long text',
    'nul' => null, 'js' => '{"a": 1}',
], $rows[0], 'typed row');
same(2, $rows[1]['id'], 'second id');
same([null], array_unique(array_slice(array_values($rows[1]), 1)), 'NULLs');

$st = $pdo->prepare('SELECT ?, ?, ?, ?, ?');
$st->bindValue(1, 42, PDO::PARAM_INT);
$st->bindValue(2, 'héllo', PDO::PARAM_STR);
$st->bindValue(3, null, PDO::PARAM_NULL);
$st->bindValue(4, true, PDO::PARAM_BOOL);
$st->bindValue(5, "\x00\xff", PDO::PARAM_LOB);
$st->execute();
same([42, 'héllo', null, 1, "\x00\xff"], $st->fetch(PDO::FETCH_NUM), 'echoed parameters');
$st->bindValue(1, -7, PDO::PARAM_INT);
$st->execute();
same(-7, $st->fetch(PDO::FETCH_NUM)[0], 'rebound parameter');
"#,
    );
}

#[test]
fn pdo_errors_carry_mysql_codes() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
foreach ([false, true] as $emulate) {
    $pdo = pdo_connect('root', '', $emulate);
    try {
        $pdo->query('SELECT * FROM missing');
        same('exception', 'none', 'missing table');
    } catch (PDOException $e) {
        same('42S02', $e->getCode(), 'SQLSTATE');
        same(['42S02', 1146, "Table 'test.missing' doesn't exist"], $e->errorInfo, 'errorInfo');
    }
    try {
        $pdo->prepare('SELEKT ?')->execute([1]);
        same('exception', 'none', 'syntax error');
    } catch (PDOException $e) {
        same(1064, $e->errorInfo[1], 'syntax error code');
    }
}
try {
    pdo_connect('app', 'wrong');
    same('exception', 'none', 'wrong password');
} catch (PDOException $e) {
    same(1045, $e->getCode(), 'access denied code');
    same(true, str_contains($e->getMessage(), "Access denied for user 'app'@'127.0.0.1' (using password: YES)"), $e->getMessage());
}
"#,
    );
}

#[test]
fn pdo_emulated_prepares_and_multiple_rowsets() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$pdo = pdo_connect('root', '', true);
$row = $pdo->query('SELECT * FROM typed')->fetch(PDO::FETCH_ASSOC);
same(-128, $row['tiny'], 'int in text protocol');
same(1.5, $row['flt'], 'float in text protocol');
same('2024-02-29 13:14:15.123456', $row['dt'], 'datetime');
same(null, $row['nul'], 'NULL');

$st = $pdo->query('SELECT 1; INSERT INTO t VALUES (1); SELECT 2');
same([[1]], $st->fetchAll(PDO::FETCH_NUM), 'first rowset');
same(true, $st->nextRowset(), 'second rowset');
same(1, $st->rowCount(), 'affected rows');
same('42', $pdo->lastInsertId(), 'last insert id');
same(true, $st->nextRowset(), 'third rowset');
same([[2]], $st->fetchAll(PDO::FETCH_NUM), 'third rowset rows');
same(false, $st->nextRowset(), 'no fourth rowset');

$pdo->beginTransaction();
same(true, $pdo->inTransaction(), 'in transaction');
$pdo->commit();
"#,
    );
}

#[test]
fn pdo_sends_and_reads_a_20_mib_blob() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$pdo = pdo_connect();
$blob = big_blob();
$st = $pdo->prepare('INSERT INTO kv VALUES (?, ?)');
$st->execute(['big', $blob]);
$st = $pdo->prepare('SELECT v FROM kv WHERE k = ?');
$st->execute(['big']);
$back = $st->fetchColumn();
same(strlen($blob), strlen($back), 'length');
same(md5($blob), md5($back), 'content');
$back = $pdo->query('SELECT big')->fetchColumn();
same(md5($blob), md5($back), 'generated blob');
"#,
    );
}

#[test]
fn mysqli_text_protocol() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$db = mysqli_connect_test('app', 'secret');
same('8.0.35-ePHPm', $db->server_info, 'server_info');
same(80035, $db->server_version, 'server_version');
$result = $db->query('SELECT * FROM typed');
$fields = $result->fetch_fields();
same(MYSQLI_TYPE_LONGLONG, $fields[0]->type, 'id type');
same(MYSQLI_PRI_KEY_FLAG | MYSQLI_NOT_NULL_FLAG, $fields[0]->flags & (MYSQLI_PRI_KEY_FLAG | MYSQLI_NOT_NULL_FLAG), 'id flags');
same(MYSQLI_TYPE_DATETIME, $fields[11]->type, 'dt type');
same(6, $fields[11]->decimals, 'dt decimals');
same('typed', $fields[0]->table, 'table name');
$row = $result->fetch_assoc();
same('-128', $row['tiny'], 'text value');
same('18446744073709551615', $row['ubig'], 'unsigned bigint');
same("\x00\x01\x02\xff\xfe", $row['bin'], 'binary');
same(null, $row['nul'], 'NULL');
same(['id' => '2', 'tiny' => null], array_slice($result->fetch_assoc(), 0, 2), 'second row');

$db->query('INSERT INTO t VALUES (1)');
same(1, $db->affected_rows, 'affected rows');
same(42, $db->insert_id, 'insert id');
same(1, $db->warning_count, 'warnings');
$db->query('UPDATE t SET x = 1');
same('Rows matched: 3  Changed: 3  Warnings: 0', $db->info, 'info');

try {
    $db->query('SELECT * FROM missing');
    same('exception', 'none', 'missing table');
} catch (mysqli_sql_exception $e) {
    same(1146, $e->getCode(), 'errno');
    same('42S02', $e->getSqlState(), 'sqlstate');
}
try {
    $db->query('SELECT 1; SELECT 2');
    same('exception', 'none', 'multi-statement without the option');
} catch (mysqli_sql_exception $e) {
    same(1064, $e->getCode(), 'multi-statement refused');
}

$db->select_db('shop');
same([['shop']], $db->query('SELECT DATABASE()')->fetch_all(), 'select_db');
try {
    $db->select_db('nope');
    same('exception', 'none', 'unknown database');
} catch (mysqli_sql_exception $e) {
    same(1049, $e->getCode(), 'unknown database');
}
same(true, $db->ping(), 'ping');
same(true, str_starts_with($db->stat(), 'Uptime: '), 'stat');
$db->close();
"#,
    );
}

#[test]
fn mysqli_multi_query() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$db = mysqli_connect_test();
$seen = [];
$db->multi_query('SELECT 1; INSERT INTO t VALUES (1); SELECT 2');
do {
    if ($result = $db->store_result()) {
        $seen[] = $result->fetch_all();
        $result->free();
    } else {
        $seen[] = [$db->affected_rows, $db->insert_id];
    }
} while ($db->more_results() && $db->next_result());
same([[['1']], [1, 42], [['2']]], $seen, 'three results');

$db->multi_query('SELECT 1; SELECT * FROM missing; SELECT 2');
$db->store_result()->free();
same(true, $db->more_results(), 'more after the first');
try {
    $db->next_result();
    same('exception', 'none', 'error in the second statement');
} catch (mysqli_sql_exception $e) {
    same(1146, $e->getCode(), 'second statement error');
}
same(false, $db->more_results(), 'nothing after the error');
same([['1']], $db->query('SELECT 1')->fetch_all(), 'connection usable');
"#,
    );
}

#[test]
fn mysqli_prepared_statements_with_long_data() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
$db = mysqli_connect_test();
$st = $db->prepare('SELECT ?, ?, ?, ?');
same(4, $st->param_count, 'param_count');
$i = 5; $d = 1.25; $s = 'x'; $b = null;
$st->bind_param('idsb', $i, $d, $s, $b);
$st->send_long_data(3, 'long ');
$st->send_long_data(3, 'data');
$st->execute();
same([5, 1.25, 'x', 'long data'], $st->get_result()->fetch_row(), 'bound values');
$i = null;
$st->execute();
same([null, 1.25, 'x', null], $st->get_result()->fetch_row(), 'NULL and consumed long data');
$st->close();

$st = $db->prepare('SELECT * FROM typed');
$st->execute();
$st->bind_result($id, $tiny, $small, $medium, $int, $big, $ubig, $flt, $dbl, $dec, $date, $dt, $ts, $tm, $yr, $name, $bin, $txt, $nul, $js);
same(true, $st->fetch(), 'fetch');
same([1, -128, '2024-02-29', '2024-02-29 13:14:15.123456', '-838:59:59', 2024, null], [$id, $tiny, $date, $dt, $tm, $yr, $nul], 'bound results');
same(true, $st->fetch(), 'second row');
same([2, null], [$id, $tiny], 'second row values');
same(null, $st->fetch(), 'end');
$st->close();

$blob = big_blob();
$st = $db->prepare('INSERT INTO kv VALUES (?, ?)');
$k = 'chunks'; $v = null;
$st->bind_param('sb', $k, $v);
foreach (str_split($blob, 1024 * 1024) as $chunk) {
    $st->send_long_data(1, $chunk);
}
$st->execute();
same(1, $st->affected_rows, 'inserted');
$st = $db->prepare('SELECT v FROM kv WHERE k = ?');
$st->bind_param('s', $k);
$st->execute();
same(md5($blob), md5($st->get_result()->fetch_row()[0]), '20 MiB through long data');

try {
    $db->prepare('SELEKT ?');
    same('exception', 'none', 'prepare error');
} catch (mysqli_sql_exception $e) {
    same(1064, $e->getCode(), 'prepare error code');
}
"#,
    );
}

#[test]
fn mysqli_login_failures() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
try {
    mysqli_connect_test('app', 'wrong');
    same('exception', 'none', 'wrong password');
} catch (mysqli_sql_exception $e) {
    same(1045, $e->getCode(), 'access denied');
    same("Access denied for user 'app'@'127.0.0.1' (using password: YES)", $e->getMessage(), 'message');
}
try {
    new mysqli('127.0.0.1', 'root', '', 'nope', {PORT});
    same('exception', 'none', 'unknown database');
} catch (mysqli_sql_exception $e) {
    same(1049, $e->getCode(), 'unknown database');
}
"#,
    );
}

#[test]
fn mysqli_persistent_connections_are_reused() {
    let server = TestServer::start();
    run_php(
        &server,
        r#"
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$ids = [];
for ($i = 0; $i < 2; $i++) {
    $db = new mysqli('p:127.0.0.1', 'app', 'secret', 'shop', {PORT});
    $ids[] = $db->thread_id;
    same([['shop']], $db->query('SELECT DATABASE()')->fetch_all(), 'database after reuse');
    $db->query('USE test');
    $db->close();
}
same($ids[0], $ids[1], 'same connection (COM_CHANGE_USER)');
"#,
    );
}

#[test]
fn php_logs_in_to_a_native_password_server() {
    let config = ServerConfig {
        auth_plugin: AuthPlugin::NativePassword,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    run_php(
        &server,
        r#"
same([[1]], pdo_connect('app', 'secret')->query('SELECT 1')->fetchAll(PDO::FETCH_NUM), 'PDO');
same([['1']], mysqli_connect_test('app', 'secret')->query('SELECT 1')->fetch_all(), 'mysqli');
same([['1']], mysqli_connect_test()->query('SELECT 1')->fetch_all(), 'empty password');
"#,
    );
}
