<?php
// Per-call cost from PHP: ephpm_kv_get (in-process) vs GET over RESP to a Redis server.
// ?port=N is the Redis server's port; ?n=N calls each. Prints "name ns_per_call" lines.
$n = max(1, (int)($_GET['n'] ?? 20000));
$port = (int)($_GET['port'] ?? 6379);
$value = str_repeat('v', 100);

ephpm_kv_set('bench:key', $value);
$start = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    ephpm_kv_get('bench:key');
}
printf("ephpm_kv_get %d\n", (hrtime(true) - $start) / $n);

if (extension_loaded('redis')) {
    $redis = new Redis();
    $redis->connect('127.0.0.1', $port);
    $redis->set('bench:key', $value);
    $start = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $redis->get('bench:key');
    }
    printf("phpredis_get %d\n", (hrtime(true) - $start) / $n);
}

// A minimal RESP client on a plain socket (what predis does, without its PHP overhead).
$socket = stream_socket_client("tcp://127.0.0.1:$port", $errno, $error, 2);
if ($socket === false) {
    http_response_code(500);
    exit("cannot connect to 127.0.0.1:$port: $error\n");
}
stream_set_write_buffer($socket, 0);
fwrite($socket, "*3\r\n\$3\r\nSET\r\n\$9\r\nbench:key\r\n\$" . strlen($value) . "\r\n$value\r\n");
fgets($socket);
$get = "*2\r\n\$3\r\nGET\r\n\$9\r\nbench:key\r\n";
$start = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    fwrite($socket, $get);
    $header = fgets($socket);
    $length = (int)substr($header, 1);
    if ($length >= 0) {
        fread($socket, $length + 2);
    }
}
printf("socket_get %d\n", (hrtime(true) - $start) / $n);
