<?php
// A CPU-bound page: build 1000 small nested records and encode them as JSON (~11 KB).
// The output is deterministic so the harness can check it byte for byte.
header('Content-Type: application/json');

$items = [];
for ($i = 0; $i < 1000; $i++) {
    $items[] = [$i % 100, [$i % 7, $i % 3]];
}

echo json_encode(['count' => count($items), 'items' => $items]);
