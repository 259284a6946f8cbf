<?php
header('X-Test: yes');
echo "Hello ", $_SERVER['REQUEST_METHOD'], " ", $_GET['name'] ?? 'nobody';
