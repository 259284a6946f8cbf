//! A proxy backend: serves clients from a pool of connections to a real MySQL or MariaDB
//! primary and its replicas, with multiplexing, read/write splitting and query digests.

pub mod analysis;
