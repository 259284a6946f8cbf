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

static int ephpm_send_headers(sapi_headers_struct *headers)
{
    if (cli_mode || SG(server_context) == NULL || request_finished) {
        return SAPI_HEADER_SENT_SUCCESSFULLY;
    }
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
    int status = headers->http_response_code ? headers->http_response_code : 200;
    host.send_headers(SG(server_context), status, lines, i);
    if (lines) {
        efree(lines);
    }
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

static const zend_function_entry ephpm_functions[] = {
    PHP_FE(fastcgi_finish_request, arginfo_fastcgi_finish_request)
    PHP_FE(getallheaders, arginfo_getallheaders)
    PHP_FALIAS(apache_request_headers, getallheaders, arginfo_getallheaders)
    PHP_FE_END
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
    ephpm_functions,
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

int ephpm_engine_start(const char *ini_entries, const ephpm_callbacks *callbacks, int cli)
{
    host = *callbacks;
    cli_mode = cli;
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
