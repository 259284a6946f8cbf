//! Builds what PHP sees of a request: the php-fpm-compatible `$_SERVER` set, cookies, body
//! metadata and the headers for `getallheaders()`.

use std::net::SocketAddr;
use std::path::Path;

use php_sys::{Request, RequestError};

use crate::http::request::{RequestHead, Version};

/// The script chosen by the router.
pub(crate) struct PhpTarget<'a> {
    /// Absolute path of the script.
    pub script_filename: &'a Path,
    /// The script's URL path, e.g. `/index.php`.
    pub script_name: &'a str,
    /// The path after the script (`/index.php/extra` -> `/extra`).
    pub path_info: Option<&'a str>,
}

/// Facts about the connection a request arrived on.
pub(crate) struct ConnectionInfo<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address on this connection.
    pub local: SocketAddr,
    /// The canonical document root.
    pub docroot: &'a Path,
    /// The request came over TLS.
    pub secure: bool,
}

/// The server software string, as `$_SERVER['SERVER_SOFTWARE']` reports it.
pub(crate) const SERVER_SOFTWARE: &str = concat!("ePHPm/", env!("CARGO_PKG_VERSION"));

/// Fills `request` for `head`, routed to `target`.
pub(crate) fn build(
    request: &mut Request,
    head: &RequestHead,
    target: &PhpTarget<'_>,
    conn: &ConnectionInfo<'_>,
    body_len: u64,
) -> Result<(), RequestError> {
    request.set_method(&head.method)?;
    request.set_request_uri(head.target.as_bytes())?;
    request.set_query_string(head.query.as_bytes())?;
    request.set_script_filename(target.script_filename)?;
    request.set_head_only(head.method == "HEAD");
    if body_len > 0 || head.header("content-length").is_some() {
        request.set_content_length(body_len);
    }
    if let Some(content_type) = head.header("content-type") {
        request.set_content_type(content_type)?;
    }
    if let Some(authorization) = head.header("authorization") {
        request.set_authorization(authorization)?;
    }
    let cookie = joined_header(head, "cookie", b"; ");
    if let Some(cookie) = &cookie {
        request.set_cookie(cookie)?;
    }
    for header in &head.headers {
        request.add_header(&header.name, &header.value)?;
    }
    add_server_vars(request, head, target, conn, body_len)
}

fn add_server_vars(
    request: &mut Request,
    head: &RequestHead,
    target: &PhpTarget<'_>,
    conn: &ConnectionInfo<'_>,
    body_len: u64,
) -> Result<(), RequestError> {
    let docroot = conn.docroot.to_string_lossy();
    let script_filename = target.script_filename.to_string_lossy();
    let php_self = match target.path_info {
        Some(info) => format!("{}{}", target.script_name, info),
        None => target.script_name.to_string(),
    };
    let host = head.header("host").unwrap_or_default();
    let server_name = host_without_port(host);
    let local_ip = conn.local.ip().to_string();
    let protocol = match head.version {
        Version::Http10 => "HTTP/1.0",
        Version::Http11 => "HTTP/1.1",
        Version::Http2 => "HTTP/2.0",
    };
    let mut var = |name: &str, value: &[u8]| request.add_server_var(name, value);

    // Request headers first, so the server's own variables below win on any clash.
    for header in &head.headers {
        add_header_var(&mut var, head, &header.name)?;
    }
    var("SERVER_SOFTWARE", SERVER_SOFTWARE.as_bytes())?;
    var("SERVER_PROTOCOL", protocol.as_bytes())?;
    var("GATEWAY_INTERFACE", b"CGI/1.1")?;
    if conn.secure {
        // As nginx's `fastcgi_param HTTPS $https if_not_empty`: set only over TLS.
        var("HTTPS", b"on")?;
        var("REQUEST_SCHEME", b"https")?;
    } else {
        var("REQUEST_SCHEME", b"http")?;
    }
    var(
        "SERVER_NAME",
        if server_name.is_empty() {
            local_ip.as_bytes()
        } else {
            server_name
        },
    )?;
    var("SERVER_ADDR", local_ip.as_bytes())?;
    var("SERVER_PORT", conn.local.port().to_string().as_bytes())?;
    var("REMOTE_ADDR", conn.peer.ip().to_string().as_bytes())?;
    var("REMOTE_PORT", conn.peer.port().to_string().as_bytes())?;
    var("DOCUMENT_ROOT", docroot.as_bytes())?;
    var("REQUEST_METHOD", head.method.as_bytes())?;
    var("REQUEST_URI", head.target.as_bytes())?;
    var("QUERY_STRING", head.query.as_bytes())?;
    var("SCRIPT_FILENAME", script_filename.as_bytes())?;
    var("SCRIPT_NAME", target.script_name.as_bytes())?;
    var("PHP_SELF", php_self.as_bytes())?;
    var("DOCUMENT_URI", php_self.as_bytes())?;
    var("REDIRECT_STATUS", b"200")?;
    if let Some(info) = target.path_info {
        var("PATH_INFO", info.as_bytes())?;
        var("PATH_TRANSLATED", format!("{docroot}{info}").as_bytes())?;
    }
    if let Some(content_type) = head.header("content-type") {
        var("CONTENT_TYPE", content_type)?;
    }
    if body_len > 0 || head.header("content-length").is_some() {
        var("CONTENT_LENGTH", body_len.to_string().as_bytes())?;
    }
    Ok(())
}

/// Adds `HTTP_<NAME>` for one header name (once per name: repeated headers are joined).
/// Like nginx, names with underscores are dropped, so `X_Forwarded_For` cannot pose as
/// `X-Forwarded-For`; Content-Type and Content-Length get their CGI names instead.
fn add_header_var(
    var: &mut impl FnMut(&str, &[u8]) -> Result<(), RequestError>,
    head: &RequestHead,
    name: &str,
) -> Result<(), RequestError> {
    if name.contains('_')
        || name.eq_ignore_ascii_case("content-type")
        || name.eq_ignore_ascii_case("content-length")
    {
        return Ok(());
    }
    let first = head
        .headers
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case(name));
    let is_first = first.is_some_and(|i| std::ptr::eq(head.headers[i].name.as_str(), name));
    if !is_first {
        return Ok(());
    }
    let mut var_name = String::with_capacity(5 + name.len());
    var_name.push_str("HTTP_");
    var_name.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    let separator: &[u8] = if name.eq_ignore_ascii_case("cookie") {
        b"; "
    } else {
        b", "
    };
    match joined_header(head, name, separator) {
        Some(value) => var(&var_name, &value),
        None => Ok(()),
    }
}

/// All values of a header joined with `separator`, or None when absent.
fn joined_header(head: &RequestHead, name: &str, separator: &[u8]) -> Option<Vec<u8>> {
    let mut values = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name));
    let mut joined = values.next()?.value.clone();
    for more in values {
        joined.extend_from_slice(separator);
        joined.extend_from_slice(&more.value);
    }
    Some(joined)
}

/// `example.com:8080` -> `example.com`; `[::1]:80` -> `[::1]`.
fn host_without_port(host: &[u8]) -> &[u8] {
    if host.starts_with(b"[") {
        return match host.iter().position(|&b| b == b']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.iter().rposition(|&b| b == b':') {
        Some(colon) => &host[..colon],
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports_from_hosts() {
        assert_eq!(host_without_port(b"example.com:8080"), b"example.com");
        assert_eq!(host_without_port(b"example.com"), b"example.com");
        assert_eq!(host_without_port(b"[::1]:80"), b"[::1]");
    }
}
