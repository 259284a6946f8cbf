//! A MySQL wire-protocol server for ePHPm.
//!
//! PHP's mysqlnd (PDO, mysqli) and the `mysql` client connect to it unchanged. The protocol
//! layer ([`protocol`], [`server`]) is independent of where data lives: it drives a
//! [`Backend`]. The embedded SQLite backend ([`sqlite`]) is the zero-config default; a proxy to
//! a real MySQL server will be another backend.

pub mod backend;
pub mod client;
#[cfg(test)]
mod noise;
pub mod protocol;
pub mod proxy;
pub mod server;
pub mod sqlite;

pub use backend::{
    AuthResponse, Backend, ClientInfo, Column, ColumnType, DbError, PreparedStatement, QueryResult,
    Session, Value,
};

/// Password checks for [`Backend::authenticate`] implementations.
pub use protocol::auth;
