//! What each node API path answers.

use serde::Serialize;

use super::http::Request;
use super::metrics;
use super::Sources;

/// Shared by every request.
pub(super) struct Context {
    /// What to report on.
    pub sources: Sources,
    /// The bearer token; empty means none is required.
    pub secret: String,
}

/// An HTTP answer.
#[derive(Debug)]
pub(super) struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// HEAD request: send the headers only.
    pub head_only: bool,
}

impl Response {
    /// A JSON error body `{"error": message}`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }

    fn json(status: u16, value: &impl Serialize) -> Response {
        match serde_json::to_vec_pretty(value) {
            Ok(body) => Response {
                status,
                content_type: "application/json",
                body,
                head_only: false,
            },
            Err(err) => Response {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: format!("serializing the answer: {err}").into_bytes(),
                head_only: false,
            },
        }
    }
}

/// Routes an authenticated `GET` or `HEAD`, or the one `POST` (`/api/workers/reload`).
pub(super) fn answer(context: &Context, request: &Request) -> Response {
    if !authorized(&context.secret, request.authorization.as_deref()) {
        return Response::error(401, "missing or wrong bearer token (node_api.secret)");
    }
    if request.method == "POST" && request.path == "/api/workers/reload" {
        return match &context.sources.reload {
            Some(reload) => {
                reload.trigger();
                log::info!("node API: reloading the PHP workers");
                Response::json(202, &serde_json::json!({ "reloading": true }))
            }
            None => Response::error(404, "worker mode is off (php.worker.script is not set)"),
        };
    }
    let head_only = request.method == "HEAD";
    if request.method != "GET" && !head_only {
        return Response::error(
            405,
            "the node API answers GET and HEAD (and POST /api/workers/reload)",
        );
    }
    let mut response = route(&context.sources, &request.path);
    response.head_only = head_only;
    response
}

fn route(sources: &Sources, path: &str) -> Response {
    let proxy = sources.proxy.as_deref();
    match (path, proxy) {
        ("/metrics", _) => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics::render(sources).into_bytes(),
            head_only: false,
        },
        ("/api/db/digests", Some(proxy)) => Response::json(200, &proxy.stats().digests()),
        ("/api/db/slow", Some(proxy)) => Response::json(200, &proxy.stats().slow_queries()),
        ("/api/db/pool", Some(proxy)) => Response::json(
            200,
            &serde_json::json!({ "pools": proxy.pools(), "replicas": proxy.replicas() }),
        ),
        ("/api/db/digests" | "/api/db/slow" | "/api/db/pool", None) => Response::error(
            404,
            "the database proxy is not running: set db.mysql.url to proxy to MySQL/MariaDB",
        ),
        ("/api/kv/stats", _) => match &sources.kv {
            Some(store) => Response::json(200, &kv_stats(store)),
            None => Response::error(404, "the KV store is disabled (kv.enabled = false)"),
        },
        _ => Response::error(404, "unknown path"),
    }
}

/// KV store counters as JSON.
fn kv_stats(store: &kv::Store) -> serde_json::Value {
    let stats = store.stats();
    let keys: usize = stats.dbs.iter().map(|db| db.keys).sum();
    serde_json::json!({
        "keys": keys,
        "used_memory": stats.used_memory,
        "maxmemory": store.maxmemory(),
        "keyspace_hits": stats.keyspace_hits,
        "keyspace_misses": stats.keyspace_misses,
        "expired_keys": stats.expired_keys,
        "evicted_keys": stats.evicted_keys,
        "connected_clients": stats.connected_clients,
        "total_commands_processed": stats.total_commands_processed,
    })
}

/// Compares the bearer token in constant time (for equal lengths).
fn authorized(secret: &str, authorization: Option<&str>) -> bool {
    if secret.is_empty() {
        return true;
    }
    let Some(token) = authorization.and_then(|value| value.strip_prefix("Bearer ")) else {
        return false;
    };
    let (token, secret) = (token.trim().as_bytes(), secret.as_bytes());
    token.len() == secret.len()
        && token
            .iter()
            .zip(secret)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, authorization: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            authorization: authorization.map(str::to_owned),
        }
    }

    #[test]
    fn a_secret_requires_the_bearer_token() {
        let context = Context {
            sources: Sources::default(),
            secret: "s3cret".into(),
        };
        assert_eq!(answer(&context, &request("/metrics", None)).status, 401);
        let wrong = request("/metrics", Some("Bearer nope"));
        assert_eq!(answer(&context, &wrong).status, 401);
        let right = request("/metrics", Some("Bearer s3cret"));
        assert_eq!(answer(&context, &right).status, 200);
    }

    #[test]
    fn db_paths_explain_when_the_proxy_is_off() {
        let context = Context {
            sources: Sources::default(),
            secret: String::new(),
        };
        let response = answer(&context, &request("/api/db/digests", None));
        assert_eq!(response.status, 404);
        assert!(String::from_utf8_lossy(&response.body).contains("db.mysql.url"));
        assert_eq!(answer(&context, &request("/nope", None)).status, 404);
    }
}
