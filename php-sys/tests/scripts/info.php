<?php
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode([
    'sapi' => PHP_SAPI,
    'opcache' => is_array($status) && $status['opcache_enabled'],
    'server_var' => $_SERVER['CUSTOM_VAR'] ?? null,
    'cookie' => $_COOKIE['c'] ?? null,
    'post' => $_POST['field'] ?? null,
    'headers' => getallheaders(),
]);
