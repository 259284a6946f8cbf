-- The sandbox every script runs in (see engine.rs). Run once per Lua state with the Rust-side
-- helpers; returns run(f, keys, argv, call, pcall), which gives script `f` a fresh global table
-- (KEYS, ARGV, read-only views of the libraries) and calls it under xpcall.
local killed, handler, caught, sha1hex, log, error_reply, json_encode, json_decode, json_null = ...

local assert, error, getmetatable, ipairs, next, pairs, rawequal, rawget, rawset, select,
    setfenv, setmetatable, tonumber, tostring, type, unpack, pcall, xpcall =
    assert, error, getmetatable, ipairs, next, pairs, rawequal, rawget, rawset, select,
    setfenv, setmetatable, tonumber, tostring, type, unpack, pcall, xpcall

-- A killed script must not be able to catch the kill: pcall and xpcall re-raise it.
-- Errors raised in Rust are shown as Redis shows them (a failed redis.call as {err=...}).
local function pass(ok, ...)
    if ok then
        return ok, ...
    end
    if killed() then
        error((...), 0)
    end
    return ok, caught((...))
end

local function safe_pcall(...)
    return pass(pcall(...))
end

-- The message handler runs after unwinding, not as Lua's error function: Lua disables
-- hooks while an error raised by a hook propagates, so a handler that loops would never be
-- killed.
local function handled(h, ok, ...)
    if ok then
        return ok, ...
    end
    if killed() then
        error((...), 0)
    end
    return false, (h(caught((...))))
end

local function safe_xpcall(f, h)
    return handled(h, pcall(f))
end

local function status_reply(...)
    local msg = ...
    if select('#', ...) ~= 1 or type(msg) ~= 'string' then
        return { err = 'ERR wrong number or type of arguments' }
    end
    return { ok = msg }
end

local redis_lib = {
    error_reply = error_reply,
    status_reply = status_reply,
    sha1hex = sha1hex,
    log = log,
    LOG_DEBUG = 0,
    LOG_VERBOSE = 1,
    LOG_NOTICE = 2,
    LOG_WARNING = 3,
    REPL_NONE = 0,
    REPL_AOF = 1,
    REPL_SLAVE = 2,
    REPL_REPLICA = 2,
    REPL_ALL = 3,
    replicate_commands = function() return true end,
    set_repl = function() end,
}

local libs = {
    cjson = {
        encode = json_encode,
        decode = json_decode,
        null = json_null,
    },
    string = string,
    table = table,
    math = math,
    os = { clock = os.clock },
}

local function readonly()
    error('Attempt to modify a readonly table', 2)
end

local function frozen(lib)
    return { __index = lib, __newindex = readonly, __metatable = false }
end

local metas = {}
for name, lib in pairs(libs) do
    metas[name] = frozen(lib)
end
local redis_meta = frozen(redis_lib)

local base = {
    assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs, next = next,
    pairs = pairs, rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
    setmetatable = setmetatable, tonumber = tonumber, tostring = tostring, type = type,
    unpack = unpack, pcall = safe_pcall, xpcall = safe_xpcall, _VERSION = _VERSION,
}

local env_meta = {
    __index = function(_, name)
        local value = base[name]
        if value == nil then
            error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
        end
        return value
    end,
    __newindex = function(_, name)
        error("Script attempted to create global variable '" .. tostring(name) .. "'", 2)
    end,
    __metatable = false,
}

local function redis_for(redis_call, redis_pcall)
    return setmetatable({ call = redis_call, pcall = redis_pcall }, redis_meta)
end

-- Strings' metatable would hand out the real string library.
getmetatable('').__metatable = false

return function(f, keys, argv, redis_call, redis_pcall)
    local env = { KEYS = keys, ARGV = argv, redis = redis_for(redis_call, redis_pcall) }
    for name, meta in pairs(metas) do
        env[name] = setmetatable({}, meta)
    end
    env._G = env
    setfenv(f, setmetatable(env, env_meta))
    return xpcall(f, handler)
end
