//! The embedded SQLite backend.
//!
//! One SQLite file per MySQL schema (`<data_dir>/<name>.sqlite`), one SQLite connection per
//! client session. Statements go through [`translate`] (MySQL to SQLite, by AST rewriting);
//! what SQLite lacks is supplied by user [`functions`], by [`schema`] answers for `SHOW`,
//! `DESCRIBE` and `information_schema`, and by table rebuilds for `ALTER TABLE`. Errors come
//! back with MySQL's codes ([`errors`]).

pub mod translate;

pub mod backend;
pub mod errors;
pub mod functions;
pub mod schema;
pub mod variables;

pub use backend::{BackendError, SqliteBackend, SqliteConfig, SqliteSession};
