<?php
class Name { public function __toString(): string { return "str"; } }
echo "echo:", json_encode(test_echo(null, true, 42, 2.5, "s", new Name())), "\n";
$shape = test_shape();
echo "shape:", json_encode($shape), "\n";
echo "int-key:", array_key_exists(7, $shape) && is_int(array_key_first(array_slice($shape, 1, 1, true))) ? "yes" : "no", "\n";
try {
    test_fail();
} catch (Throwable $e) {
    echo "fail:", get_class($e), ":", $e->getMessage(), "\n";
}
try {
    test_echo([1]);
} catch (Throwable $e) {
    echo "array:", get_class($e), "\n";
}
