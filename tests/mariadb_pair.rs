//! The MariaDB primary + replica harness (`scripts/mariadb-pair.sh`, `common::mariadb`) that the
//! MySQL proxy's tests run against: replication, the read-only replica, stopping and restarting
//! replication and the primary.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::mariadb::{MariaDbPair, Node};

const IO_RUNNING: &str = "Slave_IO_Running";
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn the_replica_follows_the_primary_and_is_read_only() {
    let pair = MariaDbPair::start(None);
    assert_eq!(
        pair.primary_url("app"),
        format!(
            "mysql://ephpm:ephpm-pass@127.0.0.1:{}/app",
            pair.primary_port
        )
    );
    assert_eq!(
        pair.replica_url("app"),
        format!(
            "mysql://ephpm:ephpm-pass@127.0.0.1:{}/app",
            pair.replica_port
        )
    );
    assert_eq!(pair.sql(Node::Primary, "SELECT @@max_connections"), "151");

    pair.sql(
        Node::Primary,
        "CREATE TABLE app.items (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB; \
         INSERT INTO app.items VALUES (1, 'written on the primary')",
    );
    pair.wait_for_replica();
    assert_eq!(
        pair.sql(Node::Replica, "SELECT id, name FROM app.items"),
        "1\twritten on the primary"
    );

    // The application user reads both nodes over TCP, writes the primary, not the replica.
    assert_eq!(pair.sql(Node::Replica, "SELECT @@read_only"), "1");
    assert_eq!(pair.sql(Node::Primary, "SELECT @@read_only"), "0");
    assert_eq!(
        pair.app_sql(Node::Replica, "SELECT COUNT(*) FROM app.items"),
        Ok("1".to_string())
    );
    let refused = pair
        .app_sql(
            Node::Replica,
            "INSERT INTO app.items VALUES (2, 'on the replica')",
        )
        .expect_err("the replica accepted a write from the application user");
    assert!(
        refused.contains("1290") && refused.contains("read-only"),
        "unexpected error: {refused}"
    );
    pair.app_sql(
        Node::Primary,
        "INSERT INTO app.items VALUES (2, 'by the app user')",
    )
    .expect("the application user writes on the primary");
    pair.wait_for_replica();
    assert_eq!(
        pair.app_sql(Node::Replica, "SELECT name FROM app.items WHERE id = 2"),
        Ok("by the app user".to_string())
    );
    // SHOW SLAVE STATUS works for the application user (a proxy checks replica lag with it).
    let status = pair
        .app_sql(Node::Replica, "SHOW SLAVE STATUS")
        .expect("SHOW SLAVE STATUS as the application user");
    assert!(status.contains("127.0.0.1"), "SHOW SLAVE STATUS: {status}");
    assert_eq!(pair.replication_field("Slave_SQL_Running"), "Yes");
    assert_eq!(pair.replication_field("Seconds_Behind_Master"), "0");
}

#[test]
fn replication_stops_resumes_and_can_be_delayed() {
    let pair = MariaDbPair::start(None);
    pair.sql(
        Node::Primary,
        "CREATE TABLE app.log (id INT PRIMARY KEY) ENGINE=InnoDB",
    );
    pair.wait_for_replica();
    assert_eq!(pair.replication_field(IO_RUNNING), "Yes");

    pair.stop_replication();
    assert_eq!(pair.replication_field(IO_RUNNING), "No");
    assert_eq!(pair.replication_field("Slave_SQL_Running"), "No");
    pair.sql(Node::Primary, "INSERT INTO app.log VALUES (1)");
    thread::sleep(Duration::from_millis(500));
    assert_eq!(pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.log"), "0");

    pair.start_replication();
    pair.wait_for_replication_field(IO_RUNNING, "Yes", STATUS_TIMEOUT);
    pair.wait_for_replica();
    assert_eq!(pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.log"), "1");

    // A delayed replica shows a write only after the delay (MASTER_DELAY counts from the event's
    // timestamp in whole seconds: 3 s means at least 2 s here).
    pair.delay_replication(3);
    let written = Instant::now();
    pair.sql(Node::Primary, "INSERT INTO app.log VALUES (2)");
    thread::sleep(Duration::from_millis(500));
    assert_eq!(pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.log"), "1");
    pair.wait_for_replica();
    assert!(
        written.elapsed() >= Duration::from_millis(1500),
        "the delayed replica applied the write after {:?}",
        written.elapsed()
    );
    assert_eq!(pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.log"), "2");
    pair.delay_replication(0);
    pair.sql(Node::Primary, "INSERT INTO app.log VALUES (3)");
    pair.wait_for_replica();
    assert_eq!(pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.log"), "3");
}

#[test]
fn the_primary_restarts_with_its_data() {
    let pair = MariaDbPair::start(Some(20));
    assert_eq!(pair.sql(Node::Primary, "SELECT @@max_connections"), "20");
    assert_eq!(pair.sql(Node::Replica, "SELECT @@max_connections"), "151");
    pair.sql(
        Node::Primary,
        "CREATE TABLE app.kept (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO app.kept VALUES (1)",
    );
    pair.wait_for_replica();

    pair.stop_primary();
    let refused = pair
        .app_sql(Node::Primary, "SELECT 1")
        .expect_err("the stopped primary still answered");
    assert!(
        refused.contains("2002") || refused.contains("2003"),
        "unexpected error: {refused}"
    );
    // The replica keeps serving reads while its primary is down.
    assert_eq!(
        pair.app_sql(Node::Replica, "SELECT COUNT(*) FROM app.kept"),
        Ok("1".to_string())
    );

    pair.start_primary();
    assert_eq!(pair.sql(Node::Primary, "SELECT @@max_connections"), "20");
    assert_eq!(
        pair.app_sql(Node::Primary, "SELECT id FROM app.kept"),
        Ok("1".to_string())
    );
    // The replica reconnects on its own and goes on replicating.
    pair.sql(Node::Primary, "INSERT INTO app.kept VALUES (2)");
    pair.wait_for_replication_field(IO_RUNNING, "Yes", STATUS_TIMEOUT);
    pair.wait_for_replica();
    assert_eq!(
        pair.sql(Node::Replica, "SELECT COUNT(*) FROM app.kept"),
        "2"
    );
}
