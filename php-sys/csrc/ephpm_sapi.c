/*
 * ePHPm's SAPI: glue between PHP's SAPI interface and the Rust host (see ephpm_sapi.h).
 *
 * Rules kept here:
 * - every PHP call that can bail out (longjmp) runs inside zend_try/zend_first_try, so a
 *   longjmp never crosses a Rust frame;
 * - PHP's per-thread globals (SG, EG, PG) are touched only from this file.
 */
#include "php.h"
#include "SAPI.h"
#include "php_main.h"
#include "php_variables.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "ext/standard/head.h"
#include "main/php_output.h"
#include "main/php_streams.h"
#include "zend_extensions.h"
#include "zend_exceptions.h"
#include "ext/spl/spl_exceptions.h"
#include "ext/session/php_session.h"

#include "ephpm_sapi.h"

ZEND_TSRMLS_CACHE_DEFINE()

/* The SAPI's public name, as PHP_SAPI and php_sapi_name() report it. */
#define EPHPM_SAPI_NAME "ephpm"
/*
 * OPcache enables itself only for SAPI names it knows. While extensions start we present
 * ourselves as FPM (whose behaviour we reproduce); see ephpm_module_startup.
 */
#define EPHPM_OPCACHE_SAPI_NAME "fpm-fcgi"

static ephpm_callbacks host;
static int cli_mode;

/* The request running on this thread (NULL between requests). */
static __thread const ephpm_request *current_request;
/* Set once fastcgi_finish_request() has completed the response. */
static __thread int request_finished;

/* ---- SAPI callbacks ---------------------------------------------------------------------- */

static size_t ephpm_ub_write(const char *str, size_t len)
{
    if (cli_mode) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = write(STDOUT_FILENO, str + done, len - done);
            if (n <= 0) {
                php_handle_aborted_connection();
                return done;
            }
            done += (size_t)n;
        }
        return len;
    }
    if (request_finished || SG(server_context) == NULL) {
        return len;
    }
    if (host.write(SG(server_context), str, len) == 0) {
        php_handle_aborted_connection();
    }
    return len;
}

static void ephpm_flush(void *server_context)
{
    if (cli_mode || server_context == NULL || request_finished) {
        return;
    }
    host.flush(server_context);
}

/* Calls send(ctx, status, lines, count) with the header lines of `headers`. */
static void pass_headers(sapi_headers_struct *headers, int status,
                         void (*send)(void *, int, const ephpm_str *, size_t))
{
    size_t count = zend_llist_count(&headers->headers);
    ephpm_str *lines = count ? emalloc(count * sizeof(ephpm_str)) : NULL;
    size_t i = 0;
    zend_llist_position pos;
    for (sapi_header_struct *h = zend_llist_get_first_ex(&headers->headers, &pos); h != NULL;
         h = zend_llist_get_next_ex(&headers->headers, &pos)) {
        lines[i].ptr = h->header;
        lines[i].len = h->header_len;
        i++;
    }
    send(SG(server_context), status, lines, i);
    if (lines) {
        efree(lines);
    }
}

static int ephpm_send_headers(sapi_headers_struct *headers)
{
    if (cli_mode || SG(server_context) == NULL || request_finished) {
        return SAPI_HEADER_SENT_SUCCESSFULLY;
    }
    int status = headers->http_response_code ? headers->http_response_code : 200;
    pass_headers(headers, status, host.send_headers);
    return SAPI_HEADER_SENT_SUCCESSFULLY;
}

static size_t ephpm_read_post(char *buffer, size_t count)
{
    if (cli_mode || SG(server_context) == NULL) {
        return 0;
    }
    return host.read_body(SG(server_context), buffer, count);
}

static char *ephpm_read_cookies(void)
{
    return current_request ? (char *)current_request->cookie : NULL;
}

static void ephpm_register_variables(zval *track_vars_array)
{
    if (cli_mode) {
        php_import_environment_variables(track_vars_array);
        const char *script = SG(request_info).path_translated ? SG(request_info).path_translated : "";
        size_t len = strlen(script);
        php_register_variable_safe("PHP_SELF", script, len, track_vars_array);
        php_register_variable_safe("SCRIPT_NAME", script, len, track_vars_array);
        php_register_variable_safe("SCRIPT_FILENAME", script, len, track_vars_array);
        php_register_variable_safe("PATH_TRANSLATED", script, len, track_vars_array);
        php_register_variable_safe("DOCUMENT_ROOT", "", 0, track_vars_array);
        return;
    }
    const ephpm_request *req = current_request;
    if (req == NULL) {
        return;
    }
    for (size_t i = 0; i < req->server_vars_count; i++) {
        const ephpm_str *name = &req->server_vars[2 * i];
        const ephpm_str *value = &req->server_vars[2 * i + 1];
        php_register_variable_safe(name->ptr, value->ptr, value->len, track_vars_array);
    }
}

static void ephpm_log_message(const char *message, int syslog_type)
{
    if (cli_mode) {
        fprintf(stderr, "%s\n", message);
        return;
    }
    host.log_message(message, syslog_type);
}

static int ephpm_sapi_startup(sapi_module_struct *module);

static sapi_module_struct ephpm_sapi_module = {
    EPHPM_SAPI_NAME,               /* name */
    "ePHPm",                       /* pretty name */
    ephpm_sapi_startup,            /* startup */
    php_module_shutdown_wrapper,   /* shutdown */
    NULL,                          /* activate */
    NULL,                          /* deactivate */
    ephpm_ub_write,                /* unbuffered write */
    ephpm_flush,                   /* flush */
    NULL,                          /* get uid */
    NULL,                          /* getenv */
    php_error,                     /* error handler */
    NULL,                          /* header handler */
    ephpm_send_headers,            /* send headers handler */
    NULL,                          /* send header handler */
    ephpm_read_post,               /* read POST data */
    ephpm_read_cookies,            /* read cookies */
    ephpm_register_variables,      /* register server variables */
    ephpm_log_message,             /* log message */
    NULL,                          /* get request time */
    NULL,                          /* child terminate */
    STANDARD_SAPI_MODULE_PROPERTIES
};

/* ---- PHP functions this SAPI adds --------------------------------------------------------- */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_fastcgi_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

/* fastcgi_finish_request(): send the response now and keep running the script. */
PHP_FUNCTION(fastcgi_finish_request)
{
    ZEND_PARSE_PARAMETERS_NONE();
    if (cli_mode || SG(server_context) == NULL || request_finished) {
        RETURN_FALSE;
    }
    php_output_end_all();
    php_header();
    host.finish_request(SG(server_context));
    request_finished = 1;
    RETURN_TRUE;
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getallheaders, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

/* getallheaders(): the request headers as the client sent them. */
PHP_FUNCTION(getallheaders)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    const ephpm_request *req = current_request;
    if (req == NULL) {
        return;
    }
    for (size_t i = 0; i < req->headers_count; i++) {
        const ephpm_str *name = &req->headers[2 * i];
        const ephpm_str *value = &req->headers[2 * i + 1];
        add_assoc_stringl_ex(return_value, name->ptr, name->len, (char *)value->ptr, value->len);
    }
}

/* ---- worker mode (FrankenPHP's API) ------------------------------------------------------ */

/* The host's handle on the worker script running on this thread; NULL in classic mode. */
static __thread void *worker_ctx;
/* The worker script's own request: current between two handled requests. */
static __thread const ephpm_request *worker_boot_request;
/* Between two handled requests: only the light state of worker_rest() is active. */
static __thread int worker_resting;

static void set_request_info(const ephpm_request *req);

/* Starts the output layer as php_request_startup does (output_buffering, implicit_flush). */
static void worker_output_startup(void)
{
    php_output_activate();
    if (PG(output_handler) && PG(output_handler)[0]) {
        zval handler;
        ZVAL_STRING(&handler, PG(output_handler));
        php_output_start_user(&handler, 0, PHP_OUTPUT_HANDLER_STDFLAGS);
        zval_ptr_dtor(&handler);
    } else if (PG(output_buffering)) {
        php_output_start_user(NULL, PG(output_buffering) > 1 ? PG(output_buffering) : 0,
                              PHP_OUTPUT_HANDLER_STDFLAGS);
    } else if (PG(implicit_flush)) {
        php_output_set_implicit_flush(1);
    }
}

/* Makes `req` the running request: request info, SAPI state (headers, POST body), output
 * layer, the execution time limit and fresh superglobals. */
static void worker_activate(const ephpm_request *req)
{
    current_request = req;
    request_finished = 0;
    set_request_info(req);
    worker_output_startup();
    sapi_activate();
    if (req->authorization) {
        php_handle_auth_data(req->authorization);
    }
    if (PG(expose_php)) {
        sapi_add_header(SAPI_PHP_VERSION_HEADER, sizeof(SAPI_PHP_VERSION_HEADER) - 1, 1);
    }
    php_hash_environment();
    zend_is_auto_global_str(ZEND_STRL("_SERVER"));
    zend_is_auto_global_str(ZEND_STRL("_REQUEST"));
    zend_set_timeout(EG(timeout_seconds), 0);
}

/* Ends the session module's per-request state as a request shutdown does (writing and closing
 * an open session), forgets $_SESSION, and starts the module's state afresh. */
static void worker_reset_session(void)
{
    zend_module_entry *session = zend_hash_str_find_ptr(&module_registry, ZEND_STRL("session"));
    if (session == NULL) {
        return;
    }
    if (session->request_shutdown_func) {
        session->request_shutdown_func(session->type, session->module_number);
    }
    zend_hash_str_del(&EG(symbol_table), ZEND_STRL("_SESSION"));
    if (session->request_startup_func) {
        session->request_startup_func(session->type, session->module_number);
    }
}

/* Sends the running request's output and headers, closes its session and ends its SAPI
 * state. */
static void worker_deactivate(void)
{
    zend_unset_timeout();
    php_output_end_all();
    php_header();
    worker_reset_session();
    php_output_deactivate();
    if (!request_finished && SG(server_context) != NULL) {
        host.finish_request(SG(server_context));
        request_finished = 1;
    }
    sapi_deactivate();
}

/* The light state the worker script runs in between two requests: its own request info, an
 * output layer (its output is discarded) and SAPI header state, but no superglobals rebuilt,
 * no timer and no session reset, which a handled request does. */
static void worker_rest(void)
{
    current_request = worker_boot_request;
    set_request_info(worker_boot_request);
    request_finished = 1;
    php_output_activate();
    sapi_activate();
    worker_resting = 1;
}

/* Leaves the light state of worker_rest(). */
static void worker_wake(void)
{
    php_output_end_all();
    php_output_deactivate();
    sapi_deactivate();
    worker_resting = 0;
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_frankenphp_handle_request, 0, 1, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

/* frankenphp_handle_request(callable $callback): bool: waits for the next request, runs the
 * callback with its superglobals, sends its response; false when the worker must stop. */
PHP_FUNCTION(frankenphp_handle_request)
{
    zend_fcall_info fci;
    zend_fcall_info_cache fcc;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_FUNC(fci, fcc)
    ZEND_PARSE_PARAMETERS_END();
    if (worker_ctx == NULL) {
        zend_throw_error(NULL, "frankenphp_handle_request() is only available in worker mode");
        RETURN_THROWS();
    }
    /* Leave the worker script's own request (fully the first time, when it is the boot
     * request, lightly afterwards) while waiting. */
    if (worker_resting) {
        worker_wake();
    } else {
        worker_deactivate();
    }
    const ephpm_request *req = host.next_request(worker_ctx);
    if (req == NULL) {
        worker_activate(worker_boot_request);
        RETURN_FALSE;
    }
    worker_activate(req);
    zval result;
    ZVAL_UNDEF(&result);
    fci.retval = &result;
    fci.param_count = 0;
    zend_call_function(&fci, &fcc);
    zval_ptr_dtor(&result);
    if (EG(exception)) {
        /* exit() unwinds through here and ends the script; any other exception is uncaught:
         * report it as PHP does (a fatal error, which ends the worker). */
        if (!zend_is_unwind_exit(EG(exception)) && !zend_is_graceful_exit(EG(exception))) {
            zend_exception_error(EG(exception), E_ERROR);
        }
        return;
    }
    worker_deactivate();
    worker_rest();
    RETURN_TRUE;
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_frankenphp_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_headers_send, 0, 0, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, status, IS_LONG, 0, "200")
ZEND_END_ARG_INFO()

/* headers_send(int $status = 200): int (FrankenPHP): with a 1xx status, sends an informational
 * response (e.g. 103 Early Hints with the Link headers set so far) and the script goes on;
 * otherwise sends the response headers now with that status. */
PHP_FUNCTION(headers_send)
{
    zend_long status = 200;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(status)
    ZEND_PARSE_PARAMETERS_END();
    if (status < 100 || status > 999) {
        zend_argument_value_error(1, "must be a valid HTTP status code");
        RETURN_THROWS();
    }
    if (SG(headers_sent) || cli_mode || SG(server_context) == NULL || request_finished) {
        RETURN_LONG(SG(sapi_headers).http_response_code);
    }
    if (status < 200) {
        pass_headers(&SG(sapi_headers), (int)status, host.send_informational);
        RETURN_LONG(status);
    }
    SG(sapi_headers).http_response_code = (int)status;
    php_header();
    RETURN_LONG(status);
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_frankenphp_response_headers, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

/* frankenphp_response_headers() (apache_response_headers()): the response headers set so far,
 * name => value. */
PHP_FUNCTION(frankenphp_response_headers)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    zend_llist_position position;
    sapi_header_struct *header = zend_llist_get_first_ex(&SG(sapi_headers).headers, &position);
    while (header != NULL) {
        const char *colon = memchr(header->header, ':', header->header_len);
        if (colon != NULL && colon > header->header) {
            const char *value = colon + 1;
            const char *end = header->header + header->header_len;
            while (value < end && (*value == ' ' || *value == '\t')) {
                value++;
            }
            add_assoc_stringl_ex(return_value, header->header, colon - header->header,
                                 (char *)value, end - value);
        }
        header = zend_llist_get_next_ex(&SG(sapi_headers).headers, &position);
    }
}

static const zend_function_entry ephpm_functions[] = {
    PHP_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
    PHP_FE(getallheaders, arginfo_getallheaders)
    PHP_FALIAS(apache_request_headers, getallheaders, arginfo_getallheaders)
    PHP_FALIAS(frankenphp_request_headers, getallheaders, arginfo_getallheaders)
    PHP_FALIAS(ephpm_request_headers, getallheaders, arginfo_getallheaders)
    PHP_FE(frankenphp_handle_request, arginfo_frankenphp_handle_request)
    PHP_FALIAS(ephpm_handle_request, frankenphp_handle_request, arginfo_frankenphp_handle_request)
    PHP_FALIAS(frankenphp_finish_request, fastcgi_finish_request, arginfo_frankenphp_finish_request)
    PHP_FALIAS(ephpm_finish_request, fastcgi_finish_request, arginfo_frankenphp_finish_request)
    PHP_FE(frankenphp_response_headers, arginfo_frankenphp_response_headers)
    PHP_FE(headers_send, arginfo_headers_send)
    PHP_FALIAS(ephpm_response_headers, frankenphp_response_headers, arginfo_frankenphp_response_headers)
    PHP_FALIAS(apache_response_headers, frankenphp_response_headers, arginfo_frankenphp_response_headers)
    PHP_FE_END
};

/* ---- host functions ---------------------------------------------------------------------- */

/* Host calls with more arguments than this are refused (ArgumentCountError). */
#define EPHPM_MAX_HOST_ARGS 1024

/* Decodes one encoded value (see ephpm_sapi.h) at *p into zv. Returns 0, or -1 when the
 * encoding is malformed (zv is then left null). */
static int decode_value(const unsigned char **p, const unsigned char *end, zval *zv, int depth);

static int decode_u64(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    if (end - *p < 8) {
        return -1;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | (*p)[i];
    }
    *p += 8;
    *out = v;
    return 0;
}

static int decode_bytes(const unsigned char **p, const unsigned char *end,
                        const char **bytes, size_t *len)
{
    uint64_t n;
    if (decode_u64(p, end, &n) != 0 || (uint64_t)(end - *p) < n) {
        return -1;
    }
    *bytes = (const char *)*p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

static int decode_array(const unsigned char **p, const unsigned char *end, zval *zv,
                        int depth, int with_keys)
{
    uint64_t count;
    if (decode_u64(p, end, &count) != 0 || count > (uint64_t)(end - *p)) {
        return -1;
    }
    array_init_size(zv, (uint32_t)count);
    for (uint64_t i = 0; i < count; i++) {
        const char *key = NULL;
        size_t key_len = 0;
        zval item;
        if (with_keys && decode_bytes(p, end, &key, &key_len) != 0) {
            return -1;
        }
        if (decode_value(p, end, &item, depth + 1) != 0) {
            return -1;
        }
        if (with_keys) {
            zend_symtable_str_update(Z_ARRVAL_P(zv), key, key_len, &item);
        } else {
            zend_hash_next_index_insert(Z_ARRVAL_P(zv), &item);
        }
    }
    return 0;
}

static int decode_value(const unsigned char **p, const unsigned char *end, zval *zv, int depth)
{
    ZVAL_NULL(zv);
    if (*p >= end || depth > 64) {
        return -1;
    }
    unsigned char tag = *(*p)++;
    uint64_t bits;
    const char *bytes;
    size_t len;
    switch (tag) {
    case 'N': return 0;
    case 'F': ZVAL_FALSE(zv); return 0;
    case 'T': ZVAL_TRUE(zv); return 0;
    case 'I':
        if (decode_u64(p, end, &bits) != 0) return -1;
        ZVAL_LONG(zv, (zend_long)(int64_t)bits);
        return 0;
    case 'D': {
        if (decode_u64(p, end, &bits) != 0) return -1;
        double d;
        memcpy(&d, &bits, sizeof d);
        ZVAL_DOUBLE(zv, d);
        return 0;
    }
    case 'S':
        if (decode_bytes(p, end, &bytes, &len) != 0) return -1;
        ZVAL_STRINGL_FAST(zv, bytes, len);
        return 0;
    case 'L': return decode_array(p, end, zv, depth, 0);
    case 'M': return decode_array(p, end, zv, depth, 1);
    default: return -1;
    }
}

/* Throws the error an 'E' result describes. */
static void throw_host_error(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 1) {
        zend_throw_exception(spl_ce_RuntimeException, "ePHPm: malformed host error", 0);
        return;
    }
    unsigned char kind = *p++;
    const char *message = "";
    size_t len = 0;
    if (decode_bytes(&p, end, &message, &len) != 0) {
        message = "ePHPm: malformed host error";
        len = strlen(message);
    }
    zend_class_entry *ce = kind == 'T' ? zend_ce_type_error
                         : kind == 'A' ? zend_ce_argument_count_error
                         : spl_ce_RuntimeException;
    zend_throw_exception_ex(ce, 0, "%.*s", (int)len, message);
}

/* Converts a PHP value to a host argument. Strings made on the way are kept in *owned (to be
 * released after the call). Returns -1 (with a TypeError thrown) for arrays and the like. */
static int to_host_arg(zval *value, uint32_t position, ephpm_arg *arg, zend_string **owned)
{
    ZVAL_DEREF(value);
    memset(arg, 0, sizeof *arg);
    *owned = NULL;
    switch (Z_TYPE_P(value)) {
    case IS_NULL: arg->type = EPHPM_ARG_NULL; return 0;
    case IS_FALSE: arg->type = EPHPM_ARG_BOOL; return 0;
    case IS_TRUE: arg->type = EPHPM_ARG_BOOL; arg->int_value = 1; return 0;
    case IS_LONG: arg->type = EPHPM_ARG_INT; arg->int_value = Z_LVAL_P(value); return 0;
    case IS_DOUBLE: arg->type = EPHPM_ARG_FLOAT; arg->float_value = Z_DVAL_P(value); return 0;
    case IS_STRING:
        arg->type = EPHPM_ARG_STRING;
        arg->str.ptr = Z_STRVAL_P(value);
        arg->str.len = Z_STRLEN_P(value);
        return 0;
    case IS_OBJECT: {
        /* Stringable objects pass as strings; others throw "could not be converted". */
        zend_string *str = zval_try_get_string(value);
        if (str == NULL) {
            return -1;
        }
        *owned = str;
        arg->type = EPHPM_ARG_STRING;
        arg->str.ptr = ZSTR_VAL(str);
        arg->str.len = ZSTR_LEN(str);
        return 0;
    }
    default:
        break;
    }
    zend_argument_type_error(position, "must be of type string|int|float|bool|null, %s given",
                             zend_zval_type_name(value));
    return -1;
}

/* Calls the host function `name` with PHP values `args` and stores its result in `result`
 * (or throws what the host reported). */
static void call_host(const char *name, size_t name_len, zval *args, uint32_t argc, zval *result)
{
    ZVAL_NULL(result);
    if (host.call == NULL) {
        zend_throw_exception(spl_ce_RuntimeException, "ePHPm: no host functions", 0);
        return;
    }
    if (argc > EPHPM_MAX_HOST_ARGS) {
        zend_throw_exception_ex(zend_ce_argument_count_error, 0,
                                "%s() accepts at most %d arguments", name, EPHPM_MAX_HOST_ARGS);
        return;
    }
    ephpm_arg *host_args = argc ? emalloc(argc * sizeof(ephpm_arg)) : NULL;
    zend_string **owned = argc ? ecalloc(argc, sizeof(zend_string *)) : NULL;
    uint32_t converted = 0;
    int failed = 0;
    for (; converted < argc; converted++) {
        if (to_host_arg(&args[converted], converted + 1, &host_args[converted],
                        &owned[converted]) != 0) {
            failed = 1;
            break;
        }
    }
    if (!failed) {
        const char *out = NULL;
        size_t out_len = 0;
        host.call(name, name_len, host_args, argc, &out, &out_len);
        const unsigned char *p = (const unsigned char *)out;
        const unsigned char *end = p + out_len;
        if (out != NULL && out_len > 0 && *p == 'E') {
            throw_host_error(p + 1, end);
        } else if (out == NULL || decode_value(&p, end, result, 0) != 0 || p != end) {
            zval_ptr_dtor(result);
            ZVAL_NULL(result);
            zend_throw_exception_ex(spl_ce_RuntimeException, 0,
                                    "ePHPm: %s() returned a malformed result", name);
        }
    }
    for (uint32_t i = 0; i < converted; i++) {
        if (owned[i] != NULL) {
            zend_string_release(owned[i]);
        }
    }
    if (host_args) {
        efree(host_args);
        efree(owned);
    }
}

ZEND_BEGIN_ARG_INFO_EX(arginfo_ephpm_host_function, 0, 0, 0)
    ZEND_ARG_VARIADIC_INFO(0, args)
ZEND_END_ARG_INFO()

/* Every host function: forwards its name and arguments to the host. */
static PHP_FUNCTION(ephpm_host_function)
{
    zval *args = NULL;
    uint32_t argc = 0;
    ZEND_PARSE_PARAMETERS_START(0, -1)
        Z_PARAM_VARIADIC('*', args, argc)
    ZEND_PARSE_PARAMETERS_END();
    zend_string *name = EX(func)->common.function_name;
    call_host(ZSTR_VAL(name), ZSTR_LEN(name), args, argc, return_value);
}

/* ephpm_functions followed by one entry per host function; built once at start-up. */
static zend_function_entry *module_functions;

static int build_module_functions(const char *const *names, size_t count)
{
    size_t fixed = sizeof(ephpm_functions) / sizeof(ephpm_functions[0]) - 1;
    module_functions = calloc(fixed + count + 1, sizeof(zend_function_entry));
    if (module_functions == NULL) {
        return -1;
    }
    memcpy(module_functions, ephpm_functions, fixed * sizeof(zend_function_entry));
    for (size_t i = 0; i < count; i++) {
        zend_function_entry *entry = &module_functions[fixed + i];
        entry->fname = strdup(names[i]);
        if (entry->fname == NULL) {
            return -1;
        }
        entry->handler = ZEND_FN(ephpm_host_function);
        entry->arg_info = arginfo_ephpm_host_function;
        entry->num_args = 1;
        entry->flags = 0;
    }
    return 0;
}

/* ---- the "ephpm" session save handler ----------------------------------------------------- */

/* Calls a session hook of the host with a session id and optional extra arguments. Returns the
 * result in `result` (null after an error, which is then pending as an exception). */
static void session_call(const char *hook, zend_string *key, zval *extra, uint32_t extra_count,
                         zval *result)
{
    zval args[3];
    ZVAL_STR(&args[0], key);
    for (uint32_t i = 0; i < extra_count && i < 2; i++) {
        ZVAL_COPY_VALUE(&args[1 + i], &extra[i]);
    }
    call_host(hook, strlen(hook), args, 1 + (extra_count < 2 ? extra_count : 2), result);
}

static PS_OPEN_FUNC(ephpm)
{
    PS_SET_MOD_DATA((void *)1);
    return SUCCESS;
}

static PS_CLOSE_FUNC(ephpm)
{
    PS_SET_MOD_DATA(NULL);
    return SUCCESS;
}

static PS_READ_FUNC(ephpm)
{
    zval result, lifetime;
    ZVAL_LONG(&lifetime, maxlifetime);
    session_call("session:read", key, &lifetime, 1, &result);
    if (EG(exception)) {
        zval_ptr_dtor(&result);
        return FAILURE;
    }
    if (Z_TYPE(result) == IS_STRING) {
        *val = zend_string_copy(Z_STR(result));
    } else {
        *val = ZSTR_EMPTY_ALLOC();
    }
    zval_ptr_dtor(&result);
    return SUCCESS;
}

static zend_result session_store(const char *hook, zend_string *key, zend_string *val,
                                 zend_long maxlifetime)
{
    zval result, extra[2];
    ZVAL_STR(&extra[0], val);
    ZVAL_LONG(&extra[1], maxlifetime);
    session_call(hook, key, extra, 2, &result);
    zend_result rc = (!EG(exception) && Z_TYPE(result) == IS_TRUE) ? SUCCESS : FAILURE;
    zval_ptr_dtor(&result);
    return rc;
}

static PS_WRITE_FUNC(ephpm)
{
    return session_store("session:write", key, val, maxlifetime);
}

static PS_UPDATE_TIMESTAMP_FUNC(ephpm)
{
    return session_store("session:touch", key, val, maxlifetime);
}

static PS_DESTROY_FUNC(ephpm)
{
    zval result;
    session_call("session:destroy", key, NULL, 0, &result);
    zend_result rc = EG(exception) ? FAILURE : SUCCESS;
    zval_ptr_dtor(&result);
    return rc;
}

/* Sessions expire through their TTL in the store: nothing to collect. */
static PS_GC_FUNC(ephpm)
{
    *nrdels = 0;
    return 0;
}

static int session_exists(zend_string *key)
{
    zval result;
    session_call("session:exists", key, NULL, 0, &result);
    int exists = !EG(exception) && Z_TYPE(result) == IS_TRUE;
    zval_ptr_dtor(&result);
    return exists;
}

static PS_VALIDATE_SID_FUNC(ephpm)
{
    return session_exists(key) ? SUCCESS : FAILURE;
}

/* A new random id that no live session uses. */
static PS_CREATE_SID_FUNC(ephpm)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        zend_string *sid = php_session_create_id(mod_data);
        if (sid == NULL || !session_exists(sid) || attempt == 2) {
            return sid;
        }
        zend_string_release(sid);
    }
    return NULL;
}

static const ps_module ps_mod_ephpm = {
    "ephpm", ps_open_ephpm, ps_close_ephpm, ps_read_ephpm, ps_write_ephpm, ps_delete_ephpm,
    ps_gc_ephpm, ps_create_sid_ephpm, ps_validate_sid_ephpm, ps_update_timestamp_ephpm
};

/*
 * Runs in zend_startup_modules(), after PHP_SAPI was registered and before Zend extensions
 * (OPcache) start: the window in which OPcache checks the SAPI name.
 */
static PHP_MINIT_FUNCTION(ephpm)
{
    if (!cli_mode) {
        sapi_module.name = EPHPM_OPCACHE_SAPI_NAME;
    }
    return SUCCESS;
}

static zend_module_entry ephpm_module_entry = {
    STANDARD_MODULE_HEADER,
    "ephpm",
    ephpm_functions, /* replaced by module_functions at start-up */
    PHP_MINIT(ephpm),
    NULL,
    NULL,
    NULL,
    NULL,
    "0.1.0",
    STANDARD_MODULE_PROPERTIES
};

static int ephpm_sapi_startup(sapi_module_struct *module)
{
    int rc = php_module_startup(module, cli_mode ? NULL : &ephpm_module_entry);
    module->name = cli_mode ? "cli" : EPHPM_SAPI_NAME;
    return rc;
}

/* ---- engine and threads ------------------------------------------------------------------ */

int ephpm_engine_start(const char *ini_entries, const ephpm_callbacks *callbacks, int cli,
                       const char *const *functions, size_t function_count)
{
    host = *callbacks;
    cli_mode = cli;
    if (!cli) {
        if (build_module_functions(functions, function_count) != 0) {
            return -1;
        }
        ephpm_module_entry.functions = module_functions;
        /* Before module start-up, so that session.save_handler=ephpm in the ini resolves. */
        php_session_register_module(&ps_mod_ephpm);
    }
    php_tsrm_startup();
    ZEND_TSRMLS_CACHE_UPDATE();
    if (cli) {
        ephpm_sapi_module.name = "cli";
        ephpm_sapi_module.pretty_name = "Command Line Interface";
    }
    sapi_startup(&ephpm_sapi_module);
    /* sapi_startup clears ini_entries: set them afterwards. Never freed (engine lives forever). */
    ephpm_sapi_module.ini_entries = strdup(ini_entries);
    ephpm_sapi_module.php_ini_ignore = 1;
    if (ephpm_sapi_module.ini_entries == NULL) {
        return -1;
    }
    if (ephpm_sapi_module.startup(&ephpm_sapi_module) == FAILURE) {
        return -1;
    }
    return 0;
}

void ephpm_thread_init(void)
{
    (void)ts_resource(0);
    ZEND_TSRMLS_CACHE_UPDATE();
}

void ephpm_thread_shutdown(void)
{
    ts_free_thread();
}

static void set_request_info(const ephpm_request *req)
{
    SG(server_context) = req->ctx;
    SG(request_info).request_method = req->method;
    SG(request_info).query_string = (char *)req->query_string;
    SG(request_info).request_uri = (char *)req->request_uri;
    SG(request_info).path_translated = (char *)req->script_filename;
    SG(request_info).content_type = req->content_type;
    SG(request_info).content_length = req->content_length;
    SG(request_info).headers_only = req->head_only;
    SG(request_info).proto_num = 1001;
    SG(sapi_headers).http_response_code = 200;
}

ephpm_outcome ephpm_execute(const ephpm_request *req)
{
    /* volatile: assigned between setjmp and a possible longjmp */
    volatile int started = 0;
    volatile int exit_status = 0;
    current_request = req;
    request_finished = 0;
    set_request_info(req);

    zend_first_try {
        if (req->authorization) {
            php_handle_auth_data(req->authorization);
        }
        if (php_request_startup() == SUCCESS) {
            started = 1;
            zend_file_handle file;
            zend_stream_init_filename(&file, req->script_filename);
            file.primary_script = 1;
            php_execute_script(&file);
            zend_destroy_file_handle(&file);
            exit_status = EG(exit_status);
        }
    } zend_catch {
        exit_status = 255;
    } zend_end_try();

    zend_first_try {
        php_request_shutdown(NULL);
    } zend_end_try();

    SG(server_context) = NULL;
    SG(request_info).request_method = NULL;
    SG(request_info).query_string = NULL;
    SG(request_info).request_uri = NULL;
    SG(request_info).path_translated = NULL;
    SG(request_info).content_type = NULL;
    current_request = NULL;
    ephpm_outcome outcome = {started, exit_status};
    return outcome;
}

size_t ephpm_memory_usage(void)
{
    return zend_memory_usage(0);
}

ephpm_outcome ephpm_execute_worker(const ephpm_request *boot, void *worker)
{
    worker_ctx = worker;
    worker_boot_request = boot;
    worker_resting = 0;
    ephpm_outcome outcome = ephpm_execute(boot);
    worker_ctx = NULL;
    worker_boot_request = NULL;
    return outcome;
}

/* Defines STDIN, STDOUT and STDERR as the CLI does, without closing the process's descriptors. */
static void register_std_stream(const char *url, const char *mode, const char *name)
{
    php_stream *stream = php_stream_open_wrapper_ex(url, mode, 0, NULL, NULL);
    if (stream == NULL) {
        return;
    }
    stream->flags |= PHP_STREAM_FLAG_NO_CLOSE;
    zend_constant constant;
    php_stream_to_zval(stream, &constant.value);
    ZEND_CONSTANT_SET_FLAGS(&constant, CONST_CS, 0);
    constant.name = zend_string_init_interned(name, strlen(name), 0);
    zend_register_constant(&constant);
}

int ephpm_run_cli(const char *script, int argc, char **argv)
{
    volatile int status = 255;
    SG(options) |= SAPI_OPTION_NO_CHDIR;
    SG(request_info).argc = argc;
    SG(request_info).argv = argv;
    SG(request_info).path_translated = (char *)script;
    SG(headers_sent) = 1;
    SG(request_info).no_headers = 1;

    zend_first_try {
        if (php_request_startup() == SUCCESS) {
            register_std_stream("php://stdin", "rb", "STDIN");
            register_std_stream("php://stdout", "wb", "STDOUT");
            register_std_stream("php://stderr", "wb", "STDERR");
            zend_file_handle file;
            zend_stream_init_filename(&file, script);
            file.primary_script = 1;
            php_execute_script(&file);
            zend_destroy_file_handle(&file);
            status = EG(exit_status);
        }
    } zend_end_try();

    zend_first_try {
        php_request_shutdown(NULL);
    } zend_end_try();
    return status;
}

const char *ephpm_php_version(void)
{
    return PHP_VERSION;
}

static void (*list_each)(void *, const char *);
static void *list_ud;

static void list_zend_extension(zend_extension *ext)
{
    list_each(list_ud, ext->name);
}

void ephpm_list_extensions(void (*each)(void *ud, const char *name), void *ud)
{
    zend_module_entry *module;
    ZEND_HASH_FOREACH_PTR(&module_registry, module) {
        each(ud, module->name);
    } ZEND_HASH_FOREACH_END();
    list_each = each;
    list_ud = ud;
    zend_llist_apply(&zend_extensions, (llist_apply_func_t)list_zend_extension);
}
