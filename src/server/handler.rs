//! What a request does, whatever protocol carried it. HTTP/1.1 ([`super::http1`]) and HTTP/2
//! ([`super::http2`]), plain or over TLS, parse a request into a [`RequestHead`] and a
//! [`RequestBody`], call [`respond`], and frame the [`Response`] it returns. Nothing here reads
//! or writes a socket.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::fault_injection::{self, FaultPoint};
use crate::http::request::{BodyFraming, RequestHead};
use crate::http::response;
use crate::php::{PhpJob, RequestBody, ResponseEvent};
use crate::router::{self, Route};
use crate::server::core::CoreContext;
use crate::server::php_request;
use crate::static_files::{self, StaticBody, StaticRequest};

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// Our address on this connection.
    pub(crate) local: SocketAddr,
    /// The connection is TLS.
    pub(crate) secure: bool,
}

/// Worker mode's routing: requests that would run `script` go to the workers, with `env`
/// added to their `$_SERVER`.
#[derive(Debug)]
pub(crate) struct WorkerRoute {
    pub(crate) script: PathBuf,
    pub(crate) env: Vec<(String, String)>,
}

/// A response, for the protocol layer to frame.
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Header fields besides the framing ones (`Content-Length`, `Date`, ...), which each
    /// protocol writes itself.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: ResponseBody,
    /// The request was malformed or only partly read: an HTTP/1.1 connection must close
    /// after this response.
    pub(crate) close: bool,
}

/// The body of a [`Response`]. A protocol answering a HEAD request sends the length of a
/// `Bytes` or `File` body but not its bytes.
pub(crate) enum ResponseBody {
    /// No body and no length (204, 304, PHP's answer to HEAD).
    None,
    /// A length but no bytes: a static file's answer to HEAD.
    HeadOnly(u64),
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` bytes of a file from `offset`.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
    /// PHP flushed output before finishing: the body arrives as [`ResponseEvent::Body`]
    /// pieces until [`ResponseEvent::End`].
    Stream(async_channel::Receiver<ResponseEvent>),
    /// This response is informational (1xx, e.g. 103 Early Hints): the final one follows from
    /// [`next_response`].
    Interim(PendingPhp),
}

/// A PHP response still to come after an informational one.
pub(crate) struct PendingPhp {
    events: async_channel::Receiver<ResponseEvent>,
    head_only: bool,
}

/// An informational response: status and headers.
pub(crate) struct Interim {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
}

impl Response {
    /// The error page for `status`.
    pub(crate) fn error(status: u16) -> Response {
        let (body, headers) = if response::status_allows_body(status) {
            let content_type = (
                "Content-Type".to_owned(),
                response::ERROR_PAGE_TYPE.to_vec(),
            );
            (
                ResponseBody::Bytes(response::error_page(status)),
                vec![content_type],
            )
        } else {
            (ResponseBody::None, Vec::new())
        };
        Response {
            status,
            headers,
            body,
            close: false,
        }
    }

    /// A response with an empty body.
    fn empty(status: u16, headers: Vec<(String, Vec<u8>)>) -> Response {
        Response {
            status,
            headers,
            body: ResponseBody::Bytes(Vec::new()),
            close: false,
        }
    }

    /// This response, asking HTTP/1.1 to close the connection after it.
    pub(crate) fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// Splits an informational response from what produces the final one; a final response
    /// comes back as `Err`.
    pub(crate) fn into_interim(self) -> Result<(Interim, PendingPhp), Response> {
        match self.body {
            ResponseBody::Interim(pending) => Ok((
                Interim {
                    status: self.status,
                    headers: self.headers,
                },
                pending,
            )),
            _ => Err(self),
        }
    }
}

/// Whether a response with `status` never has a body.
pub(crate) fn status_has_no_body(status: u16) -> bool {
    !response::status_allows_body(status)
}

/// The answer to a request that does not need its body: a redirect from plain HTTP to HTTPS
/// (`server.tls.redirect_http`). Called before the body is read; `None` means read the body
/// and call [`respond`].
pub(crate) fn answer_before_body(
    core: &CoreContext,
    head: &RequestHead,
    client: &Client,
) -> Option<Response> {
    fault_injection::panic_if_asked(FaultPoint::Connection, head.path.as_bytes());
    fault_injection::panic_if_asked(FaultPoint::Core, head.path.as_bytes());
    if let Some(answer) = core
        .acme_tokens
        .as_ref()
        .and_then(|tokens| tokens.answer(&head.path))
    {
        let content_type = ("Content-Type".to_owned(), b"text/plain".to_vec());
        return Some(Response {
            status: 200,
            headers: vec![content_type],
            body: ResponseBody::Bytes(answer.into_bytes()),
            close: false,
        });
    }
    let port = core.https_redirect.filter(|_| !client.secure)?;
    let host = head
        .header("host")
        .and_then(|host| std::str::from_utf8(host).ok())
        .map(host_without_port)
        .filter(|host| !host.is_empty())
        .map_or_else(|| client.local.ip().to_string(), str::to_owned);
    let port = if port == 443 {
        String::new()
    } else {
        format!(":{port}")
    };
    let location = format!(
        "https://{host}{port}{}",
        with_query(&head.path, &head.query)
    );
    // 308 keeps the method and body of a POST; the body is not read, so HTTP/1.1 closes.
    let redirect = Response::empty(308, vec![("Location".to_owned(), location.into_bytes())]);
    Some(if matches!(head.framing, BodyFraming::None) {
        redirect
    } else {
        redirect.closing()
    })
}

/// Decides and produces the response to a request whose body has been read.
pub(crate) async fn respond(
    core: &CoreContext,
    head: &RequestHead,
    body: RequestBody,
    client: &Client,
) -> Response {
    let mut response = match router::resolve(&core.docroot, &head.path) {
        Route::Php {
            script_filename,
            script_name,
            path_info,
        } => {
            let target = php_request::PhpTarget {
                script_filename: &script_filename,
                script_name: &script_name,
                path_info: path_info.as_deref(),
            };
            serve_php(core, head, target, body, client).await
        }
        Route::Static { path, meta } => serve_static(core, head, &path, &meta),
        Route::RedirectToDir { location } => Response::empty(
            301,
            vec![(
                "Location".to_owned(),
                with_query(&location, &head.query).into_bytes(),
            )],
        ),
        Route::Forbidden => Response::error(403),
        Route::NotFound => Response::error(404),
        Route::BadRequest => Response::error(400).closing(),
    };
    add_policy_headers(core, client, &mut response);
    response
}

/// The response that follows an informational one.
pub(crate) async fn next_response(
    core: &CoreContext,
    pending: PendingPhp,
    client: &Client,
) -> Response {
    let mut response = php_answer(pending.events, pending.head_only).await;
    add_policy_headers(core, client, &mut response);
    response
}

/// The headers every response of this server carries: HSTS over TLS.
fn add_policy_headers(core: &CoreContext, client: &Client, response: &mut Response) {
    if let Some(hsts) = core.hsts.as_ref().filter(|_| client.secure) {
        response
            .headers
            .push(("Strict-Transport-Security".to_owned(), hsts.clone()));
    }
}

async fn serve_php(
    core: &CoreContext,
    head: &RequestHead,
    target: php_request::PhpTarget<'_>,
    body: RequestBody,
    client: &Client,
) -> Response {
    let mut request = php_sys::Request::with_capacity(4096, 48);
    let conn = php_request::ConnectionInfo {
        peer: client.peer,
        local: client.local,
        docroot: core.docroot.path(),
        secure: client.secure,
    };
    if php_request::build(&mut request, head, &target, &conn, body.len()).is_err() {
        return Response::error(400).closing();
    }
    let worker = core
        .worker
        .as_deref()
        .filter(|worker| worker.script == target.script_filename);
    let to_worker = worker.is_some();
    if let Some(worker) = worker {
        let env = worker.env.iter();
        let added = std::iter::once(("FRANKENPHP_WORKER", "1"))
            .chain(env.map(|(name, value)| (name.as_str(), value.as_str())))
            .try_for_each(|(name, value)| request.add_server_var(name, value.as_bytes()));
        if added.is_err() {
            return Response::error(500);
        }
    }
    let (events_tx, events_rx) = async_channel::bounded(8);
    let job = PhpJob {
        request,
        body,
        events: events_tx,
    };
    let submitted = if to_worker {
        core.pool.submit_to_worker(job)
    } else {
        core.pool.submit(job)
    };
    if submitted.is_err() {
        log::warn!(
            "PHP queue full on this core ({} threads busy, {} queued): answering 503",
            core.pool.busy(),
            core.pool.queued()
        );
        return Response::error(503);
    }
    php_answer(events_rx, head.method == "HEAD").await
}

/// The response PHP produces on `events`: whole, streamed, or informational first.
async fn php_answer(events: async_channel::Receiver<ResponseEvent>, head_only: bool) -> Response {
    match events.recv().await {
        Ok(ResponseEvent::Complete { head, body }) => Response {
            status: head.status,
            body: if head_only || status_has_no_body(head.status) {
                ResponseBody::None
            } else {
                ResponseBody::Bytes(body)
            },
            headers: head.headers,
            close: false,
        },
        Ok(ResponseEvent::Head(head)) => Response {
            status: head.status,
            headers: head.headers,
            body: ResponseBody::Stream(events),
            close: false,
        },
        Ok(ResponseEvent::Informational(head)) => Response {
            status: head.status,
            headers: head.headers,
            body: ResponseBody::Interim(PendingPhp { events, head_only }),
            close: false,
        },
        Ok(ResponseEvent::Body(_) | ResponseEvent::End) | Err(_) => Response::error(500).closing(),
    }
}

fn serve_static(
    core: &CoreContext,
    head: &RequestHead,
    path: &Path,
    meta: &std::fs::Metadata,
) -> Response {
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let allow = ("Allow".to_owned(), b"GET, HEAD".to_vec());
            return Response::empty(405, vec![allow]);
        }
    };
    let request = StaticRequest {
        head_only,
        if_none_match: head.header("if-none-match"),
        if_modified_since: head.header("if-modified-since"),
        range: head.header("range"),
        if_range: head.header("if-range"),
        accept_encoding: if core.gzip {
            head.header("accept-encoding")
        } else {
            None
        },
    };
    let answer = static_files::respond(path, meta, &request);
    let body = match answer.body {
        _ if head_only && answer.status != 304 => ResponseBody::HeadOnly(answer.content_length),
        StaticBody::Empty if answer.status == 304 => ResponseBody::None,
        StaticBody::Empty => ResponseBody::Bytes(Vec::new()),
        StaticBody::Bytes(bytes) => ResponseBody::Bytes(bytes),
        StaticBody::File { path, offset, len } => ResponseBody::File { path, offset, len },
    };
    Response {
        status: answer.status,
        headers: answer
            .headers
            .into_iter()
            .map(|(name, value)| (name, value.into_bytes()))
            .collect(),
        body,
        close: false,
    }
}

/// `path?query`, or `path` when the query is empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The host part of a `Host` header value (`example.com:8080` -> `example.com`, `[::1]:80` ->
/// `[::1]`).
fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::{host_without_port, with_query, Response, ResponseBody};

    #[test]
    fn host_headers_lose_their_port() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
        assert_eq!(host_without_port(" 10.0.0.1:443 "), "10.0.0.1");
    }

    #[test]
    fn queries_are_appended_only_when_present() {
        assert_eq!(with_query("/a/", ""), "/a/");
        assert_eq!(with_query("/a/", "b=1"), "/a/?b=1");
    }

    #[test]
    fn error_pages_have_a_body_unless_the_status_forbids_one() {
        let not_found = Response::error(404);
        assert!(matches!(&not_found.body, ResponseBody::Bytes(page) if !page.is_empty()));
        assert_eq!(not_found.headers.len(), 1);
        assert!(matches!(Response::error(304).body, ResponseBody::None));
    }
}
