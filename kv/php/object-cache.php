<?php
/**
 * WordPress persistent object cache backed by ePHPm's built-in KV store.
 *
 * Copy this file to wp-content/object-cache.php. Under `ephpm serve` (with `[kv]` enabled)
 * cached objects survive between requests through the ephpm_kv_* functions: a direct call
 * into the store, no socket, no Redis server. Anywhere else (php-fpm, a CLI without the
 * functions) it falls back to a per-request cache like WordPress's default.
 *
 * Keys are "wp:<salt>:<blog>:<group>:<key>"; define WP_CACHE_KEY_SALT to share or separate
 * sites (default: derived from ABSPATH and DB_NAME). Values are PHP-serialized.
 *
 * `ephpm php-cli` (wp-cli) has no ephpm_kv_* functions: its changes reach the database but
 * not the server's cache. After changing options or content from the CLI, flush the cache
 * with `redis-cli -p 6379 --scan --pattern 'wp:*' | xargs redis-cli -p 6379 del`.
 */

if (!defined('ABSPATH')) {
    exit;
}

class WP_Object_Cache
{
    /** Local copies for this request: [group][key] => value. */
    private array $cache = [];
    /** Groups shared by every site of a multisite network. */
    private array $global_groups = [];
    /** Groups that never leave this request. */
    private array $non_persistent_groups = [];
    private string $prefix;
    private string $blog_prefix = '';
    private bool $persistent;
    public int $cache_hits = 0;
    public int $cache_misses = 0;

    public function __construct()
    {
        $this->persistent = function_exists('ephpm_kv_get');
        $salt = defined('WP_CACHE_KEY_SALT') ? WP_CACHE_KEY_SALT
            : substr(md5(ABSPATH . (defined('DB_NAME') ? DB_NAME : '')), 0, 12);
        $this->prefix = 'wp:' . $salt . ':';
        $this->blog_prefix = is_multisite() ? get_current_blog_id() . ':' : '';
    }

    private function group(string $group): string
    {
        return $group === '' ? 'default' : $group;
    }

    private function stored(string $group): bool
    {
        return $this->persistent && !isset($this->non_persistent_groups[$group]);
    }

    private function store_key(string $key, string $group): string
    {
        $blog = isset($this->global_groups[$group]) ? '' : $this->blog_prefix;
        return $this->prefix . $blog . $group . ':' . $key;
    }

    private static function copy($value)
    {
        return is_object($value) ? clone $value : $value;
    }

    private static function valid_key($key): bool
    {
        return (is_int($key) || (is_string($key) && $key !== '')) ;
    }

    public function add($key, $data, $group = 'default', $expire = 0): bool
    {
        if (wp_suspend_cache_addition() || !self::valid_key($key)) {
            return false;
        }
        $group = $this->group((string) $group);
        if (isset($this->cache[$group][$key]) || array_key_exists($key, $this->cache[$group] ?? [])) {
            return false;
        }
        if ($this->stored($group)) {
            if (!ephpm_kv_add($this->store_key((string) $key, $group), serialize($data), (int) $expire)) {
                return false;
            }
            $this->cache[$group][$key] = self::copy($data);
            return true;
        }
        return $this->set($key, $data, $group, $expire);
    }

    public function add_multiple(array $data, $group = '', $expire = 0): array
    {
        $results = [];
        foreach ($data as $key => $value) {
            $results[$key] = $this->add($key, $value, $group, $expire);
        }
        return $results;
    }

    public function replace($key, $data, $group = 'default', $expire = 0): bool
    {
        if (!self::valid_key($key)) {
            return false;
        }
        $found = false;
        $this->get($key, $group, false, $found);
        return $found ? $this->set($key, $data, $group, $expire) : false;
    }

    public function set($key, $data, $group = 'default', $expire = 0): bool
    {
        if (!self::valid_key($key)) {
            return false;
        }
        $group = $this->group((string) $group);
        $this->cache[$group][$key] = self::copy($data);
        if ($this->stored($group)) {
            ephpm_kv_set($this->store_key((string) $key, $group), serialize($data), max(0, (int) $expire));
        }
        return true;
    }

    public function set_multiple(array $data, $group = '', $expire = 0): array
    {
        $results = [];
        foreach ($data as $key => $value) {
            $results[$key] = $this->set($key, $value, $group, $expire);
        }
        return $results;
    }

    public function get($key, $group = 'default', $force = false, &$found = null)
    {
        if (!self::valid_key($key)) {
            $found = false;
            return false;
        }
        $group = $this->group((string) $group);
        if (!$force && isset($this->cache[$group]) && array_key_exists($key, $this->cache[$group])) {
            $found = true;
            $this->cache_hits++;
            return self::copy($this->cache[$group][$key]);
        }
        if ($this->stored($group)) {
            $raw = ephpm_kv_get($this->store_key((string) $key, $group));
            if ($raw !== false) {
                $value = unserialize($raw);
                $this->cache[$group][$key] = $value;
                $found = true;
                $this->cache_hits++;
                return self::copy($value);
            }
        }
        $found = false;
        $this->cache_misses++;
        return false;
    }

    public function get_multiple($keys, $group = 'default', $force = false): array
    {
        $group = $this->group((string) $group);
        $values = [];
        $wanted = [];
        foreach ($keys as $key) {
            if (!$force && isset($this->cache[$group]) && array_key_exists($key, $this->cache[$group])) {
                $values[$key] = self::copy($this->cache[$group][$key]);
                $this->cache_hits++;
            } else {
                $wanted[] = $key;
            }
        }
        if ($wanted && $this->stored($group)) {
            $store_keys = array_map(fn($key) => $this->store_key((string) $key, $group), $wanted);
            foreach (ephpm_kv_mget(...$store_keys) as $i => $raw) {
                $key = $wanted[$i];
                if ($raw === false) {
                    $values[$key] = false;
                    $this->cache_misses++;
                    continue;
                }
                $value = unserialize($raw);
                $this->cache[$group][$key] = $value;
                $values[$key] = self::copy($value);
                $this->cache_hits++;
            }
        } else {
            foreach ($wanted as $key) {
                $values[$key] = false;
                $this->cache_misses++;
            }
        }
        $ordered = [];
        foreach ($keys as $key) {
            $ordered[$key] = $values[$key];
        }
        return $ordered;
    }

    public function delete($key, $group = 'default', $deprecated = false): bool
    {
        if (!self::valid_key($key)) {
            return false;
        }
        $group = $this->group((string) $group);
        $local = isset($this->cache[$group]) && array_key_exists($key, $this->cache[$group]);
        unset($this->cache[$group][$key]);
        if ($this->stored($group)) {
            return ephpm_kv_del($this->store_key((string) $key, $group)) > 0 || $local;
        }
        return $local;
    }

    public function delete_multiple(array $keys, $group = ''): array
    {
        $results = [];
        foreach ($keys as $key) {
            $results[$key] = $this->delete($key, $group);
        }
        return $results;
    }

    private function offset($key, int $offset, string $group)
    {
        $found = false;
        $value = $this->get($key, $group, false, $found);
        if (!$found) {
            return false;
        }
        $value = max(0, (is_numeric($value) ? (int) $value : 0) + $offset);
        $this->set($key, $value, $group);
        return $value;
    }

    public function incr($key, $offset = 1, $group = 'default')
    {
        return $this->offset($key, (int) $offset, $this->group((string) $group));
    }

    public function decr($key, $offset = 1, $group = 'default')
    {
        return $this->offset($key, -(int) $offset, $this->group((string) $group));
    }

    /** Removes every key of this site (every site sharing the salt) from the store. */
    public function flush(): bool
    {
        $this->cache = [];
        if ($this->persistent) {
            $this->delete_matching($this->prefix . '*');
        }
        return true;
    }

    public function flush_runtime(): bool
    {
        $this->cache = [];
        return true;
    }

    public function flush_group($group): bool
    {
        $group = $this->group((string) $group);
        unset($this->cache[$group]);
        if ($this->stored($group)) {
            $blog = isset($this->global_groups[$group]) ? '' : $this->blog_prefix;
            $this->delete_matching($this->prefix . $blog . $group . ':*');
        }
        return true;
    }

    private function delete_matching(string $pattern): void
    {
        $cursor = '0';
        do {
            [$cursor, $keys] = ephpm_kv_command('SCAN', $cursor, 'MATCH', $pattern, 'COUNT', 1000);
            if ($keys) {
                ephpm_kv_del(...$keys);
            }
        } while ($cursor !== '0');
    }

    public function add_global_groups($groups): void
    {
        foreach ((array) $groups as $group) {
            $this->global_groups[$group] = true;
        }
    }

    public function add_non_persistent_groups($groups): void
    {
        foreach ((array) $groups as $group) {
            $this->non_persistent_groups[$group] = true;
        }
    }

    public function switch_to_blog($blog_id): void
    {
        $this->blog_prefix = is_multisite() ? ((int) $blog_id) . ':' : '';
    }

    public function stats(): void
    {
        echo '<p><strong>Cache Hits:</strong> ' . $this->cache_hits . '<br />';
        echo '<strong>Cache Misses:</strong> ' . $this->cache_misses . '</p>';
    }
}

function wp_cache_init() { $GLOBALS['wp_object_cache'] = new WP_Object_Cache(); }
function wp_cache_add($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->add($key, $data, $group, (int) $expire); }
function wp_cache_add_multiple(array $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->add_multiple($data, $group, (int) $expire); }
function wp_cache_replace($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->replace($key, $data, $group, (int) $expire); }
function wp_cache_set($key, $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->set($key, $data, $group, (int) $expire); }
function wp_cache_set_multiple(array $data, $group = '', $expire = 0) { return $GLOBALS['wp_object_cache']->set_multiple($data, $group, (int) $expire); }
function wp_cache_get($key, $group = '', $force = false, &$found = null) { return $GLOBALS['wp_object_cache']->get($key, $group, $force, $found); }
function wp_cache_get_multiple($keys, $group = '', $force = false) { return $GLOBALS['wp_object_cache']->get_multiple($keys, $group, $force); }
function wp_cache_delete($key, $group = '') { return $GLOBALS['wp_object_cache']->delete($key, $group); }
function wp_cache_delete_multiple(array $keys, $group = '') { return $GLOBALS['wp_object_cache']->delete_multiple($keys, $group); }
function wp_cache_incr($key, $offset = 1, $group = '') { return $GLOBALS['wp_object_cache']->incr($key, $offset, $group); }
function wp_cache_decr($key, $offset = 1, $group = '') { return $GLOBALS['wp_object_cache']->decr($key, $offset, $group); }
function wp_cache_flush() { return $GLOBALS['wp_object_cache']->flush(); }
function wp_cache_flush_runtime() { return $GLOBALS['wp_object_cache']->flush_runtime(); }
function wp_cache_flush_group($group) { return $GLOBALS['wp_object_cache']->flush_group($group); }
function wp_cache_supports($feature) { return in_array($feature, ['add_multiple', 'set_multiple', 'get_multiple', 'delete_multiple', 'flush_runtime', 'flush_group'], true); }
function wp_cache_close() { return true; }
function wp_cache_add_global_groups($groups) { $GLOBALS['wp_object_cache']->add_global_groups($groups); }
function wp_cache_add_non_persistent_groups($groups) { $GLOBALS['wp_object_cache']->add_non_persistent_groups($groups); }
function wp_cache_switch_to_blog($blog_id) { $GLOBALS['wp_object_cache']->switch_to_blog($blog_id); }
function wp_cache_reset() { _deprecated_function(__FUNCTION__, '3.5.0', 'wp_cache_switch_to_blog()'); return false; }
