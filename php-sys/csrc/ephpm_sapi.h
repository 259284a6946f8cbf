/*
 * ePHPm's SAPI shim: the only C code between Rust and libphp.
 *
 * Every PHP-internal call (and every access to PHP's thread-local globals) happens in
 * ephpm_sapi.c. This header uses plain C types only, so bindgen can turn it into Rust.
 */
#ifndef EPHPM_SAPI_H
#define EPHPM_SAPI_H

#include <stddef.h>
#include <stdint.h>

/* A byte string that is NUL-terminated at ptr[len]; len excludes the NUL. */
typedef struct ephpm_str {
    const char *ptr;
    size_t len;
} ephpm_str;

/* The type of a host-function argument. */
typedef enum ephpm_arg_type {
    EPHPM_ARG_NULL = 0,
    EPHPM_ARG_BOOL = 1,
    EPHPM_ARG_INT = 2,
    EPHPM_ARG_FLOAT = 3,
    EPHPM_ARG_STRING = 4
} ephpm_arg_type;

/* One argument of a host-function call: PHP scalars only (objects with __toString become
 * strings; arrays are refused with a TypeError before the host is called). */
typedef struct ephpm_arg {
    ephpm_arg_type type;
    int64_t int_value;    /* EPHPM_ARG_BOOL (0/1) and EPHPM_ARG_INT */
    double float_value;   /* EPHPM_ARG_FLOAT */
    ephpm_str str;        /* EPHPM_ARG_STRING (str_ in Rust) */
} ephpm_arg;

/*
 * The result of a host-function call, encoded by the host; integers are little-endian:
 *   'N' null | 'F' false | 'T' true | 'I' int64 | 'D' float64 | 'S' u64 len, bytes
 *   'L' u64 count, values (a list) | 'M' u64 count, (u64 len, key bytes, value)* (a map)
 *   'E' kind byte, u64 len, message: throw (kind 'R' RuntimeException, 'T' TypeError,
 *       'A' ArgumentCountError); only as the whole result
 */

/* Functions the host (Rust) provides. `ctx` is the request's ephpm_request.ctx. */
typedef struct ephpm_callbacks {
    /* Body output. Returns len, or 0 when the client is gone. */
    size_t (*write)(void *ctx, const char *data, size_t len);
    /* PHP's flush(): push what was written so far to the client. */
    void (*flush)(void *ctx);
    /* The status and the header lines ("Name: value"), once per request, before any output. */
    void (*send_headers)(void *ctx, int status, const ephpm_str *lines, size_t count);
    /* An informational (1xx) response, e.g. 103 Early Hints, before the final one. */
    void (*send_informational)(void *ctx, int status, const ephpm_str *lines, size_t count);
    /* Reads up to len request-body bytes into buf; 0 means end of body. */
    size_t (*read_body)(void *ctx, char *buf, size_t len);
    /* fastcgi_finish_request(): the response is complete; later output is discarded. */
    void (*finish_request)(void *ctx);
    /* A message from PHP's error log (log_errors). May come outside a request. */
    void (*log_message)(const char *message, int syslog_type);
    /* A host function registered at start-up was called from PHP, or the "ephpm" session
     * save handler needs the host ("session:read", "session:write", "session:destroy",
     * "session:exists", "session:touch"). Sets *out and *out_len to the encoded result (see
     * above), valid until the next call on the same thread. */
    void (*call)(const char *name, size_t name_len, const ephpm_arg *args, size_t argc,
                 const char **out, size_t *out_len);
    /* Worker mode: blocks until the next request for the worker `worker` (the pointer given
     * to ephpm_execute_worker) and returns it, valid until the next call; NULL stops it. */
    const struct ephpm_request *(*next_request)(void *worker);
} ephpm_callbacks;

/* One HTTP request. All char pointers are NUL-terminated and live until ephpm_execute returns. */
typedef struct ephpm_request {
    void *ctx;
    const char *method;
    const char *request_uri;
    const char *query_string;
    const char *script_filename;
    const char *content_type;      /* NULL when absent */
    int64_t content_length;        /* -1 when absent */
    const char *cookie;            /* NULL when absent */
    const char *authorization;     /* NULL when absent */
    int head_only;
    const ephpm_str *server_vars;  /* name, value, name, value, ... */
    size_t server_vars_count;      /* number of pairs */
    const ephpm_str *headers;      /* request headers as name, value pairs, for getallheaders() */
    size_t headers_count;          /* number of pairs */
} ephpm_request;

/* Result of ephpm_execute and ephpm_execute_worker. */
typedef struct ephpm_outcome {
    int started;       /* 0 when php_request_startup failed */
    int exit_status;   /* EG(exit_status): 255 after a fatal error */
} ephpm_outcome;

/* Starts the engine once per process. cli != 0 runs as the "cli" SAPI. In server mode the
 * `function_count` names in `functions` become PHP functions that call callbacks->call, and
 * the "ephpm" session save handler is registered. Returns 0 on success. */
int ephpm_engine_start(const char *ini_entries, const ephpm_callbacks *callbacks, int cli,
                       const char *const *functions, size_t function_count);
/* Registers the calling thread with PHP's thread-safe resource manager. */
void ephpm_thread_init(void);
/* Releases the calling thread's PHP resources. */
void ephpm_thread_shutdown(void);
/* Runs one request on the calling (registered) thread. */
ephpm_outcome ephpm_execute(const ephpm_request *request);
/* Runs a worker script (FrankenPHP worker mode): `boot` is the script's own request; each
 * frankenphp_handle_request() call takes the next request from callbacks->next_request(worker)
 * and completes it with callbacks->finish_request(ctx). Returns when the script ends. */
ephpm_outcome ephpm_execute_worker(const ephpm_request *boot, void *worker);
/* PHP's memory use on the calling (registered) thread, as memory_get_usage() reports it. */
size_t ephpm_memory_usage(void);
/* Runs a script as the CLI would (argv[0] is the script). Returns the exit status. */
int ephpm_run_cli(const char *script, int argc, char **argv);
/* PHP's version string. */
const char *ephpm_php_version(void);
/* Calls each(ud, name) for every loaded PHP module and Zend extension. */
void ephpm_list_extensions(void (*each)(void *ud, const char *name), void *ud);

#endif
