<?php
// Sessions and a hit counter in the built-in KV store (no Redis server, no socket).
$kv = function_exists('ephpm_kv_incr');
if ($kv) {
    ini_set('session.save_handler', 'ephpm');
}
session_start();
$hits = $kv ? ephpm_kv_incr('demo:hits') : null;
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
$opcache = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
$name = isset($_POST['name']) ? htmlspecialchars($_POST['name']) : null;

// The built-in database: MySQL protocol, SQLite storage, found through the injected DB_* env.
$db = 'off';
if (getenv('DB_HOST') !== false) {
    try {
        $dsn = sprintf('mysql:host=%s;port=%s;dbname=%s', getenv('DB_HOST'), getenv('DB_PORT'), getenv('DB_DATABASE'));
        $pdo = new PDO($dsn, getenv('DB_USERNAME'), getenv('DB_PASSWORD'), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
        $pdo->exec('CREATE TABLE IF NOT EXISTS page_views (id INT AUTO_INCREMENT PRIMARY KEY, seen_at DATETIME NOT NULL)');
        $pdo->exec('INSERT INTO page_views (seen_at) VALUES (NOW())');
        $views = $pdo->query('SELECT COUNT(*) FROM page_views')->fetchColumn();
        $db = sprintf('%d page views stored (%s)', $views, $pdo->getAttribute(PDO::ATTR_SERVER_VERSION));
    } catch (PDOException $e) {
        $db = 'error: ' . $e->getMessage();
    }
}
?><!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ePHPm demo</title>
  <link rel="stylesheet" href="/assets/style.css">
</head>
<body>
  <h1>ePHPm is serving PHP</h1>
  <table>
    <tr><th>Server</th><td><?= htmlspecialchars($_SERVER['SERVER_SOFTWARE']) ?></td></tr>
    <tr><th>PHP</th><td><?= PHP_VERSION ?> (<?= PHP_SAPI ?>, <?= PHP_ZTS ? 'ZTS' : 'NTS' ?>)</td></tr>
    <tr><th>OPcache</th><td><?= is_array($opcache) && $opcache['opcache_enabled'] ? 'enabled' : 'off' ?></td></tr>
    <tr><th>Request</th><td><?= htmlspecialchars($_SERVER['REQUEST_METHOD'] . ' ' . $_SERVER['REQUEST_URI']) ?></td></tr>
    <tr><th>Visits in this session</th><td><?= (int) $_SESSION['visits'] ?></td></tr>
    <tr><th>Database</th><td><?= htmlspecialchars($db) ?></td></tr>
    <tr><th>KV store</th><td><?= $kv ? sprintf('%d hits (ephpm_kv_incr; redis-cli -p 6379 get demo:hits)', $hits) : 'off' ?></td></tr>
  </table>
  <?php if ($name !== null): ?>
    <p class="hello">Hello, <?= $name ?>!</p>
  <?php endif; ?>
  <form method="post">
    <label>Your name <input name="name"></label>
    <button>Say hello</button>
  </form>
  <p><a href="/hello.php">hello.php</a> &middot; <a href="/pretty/url/routed/to/index.php">a pretty URL</a></p>
</body>
</html>
