<?php
ini_set('session.save_handler', 'ephpm');
ini_set('session.use_strict_mode', '1');
session_start();
$_SESSION['count'] = ($_SESSION['count'] ?? 0) + 1;
echo "count=", $_SESSION['count'], " id=", session_id();
