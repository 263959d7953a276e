//! For tests of the store and of what is built on it: a PostgreSQL database of its own on the
//! server named by `UCTRIAGE_TEST_PG`, dropped afterwards. With `UCTRIAGE_REQUIRE_PG` set (CI) a
//! missing server is a failure, not a skip.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

#[derive(Debug)]
pub struct Database {
    pub url: String,
    admin: String,
    name: String,
}

/// The server's URL, or why PostgreSQL tests do not run (a failure when they are required).
fn server() -> Option<String> {
    match std::env::var("UCTRIAGE_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("UCTRIAGE_REQUIRE_PG").is_err(),
                "UCTRIAGE_REQUIRE_PG is set but UCTRIAGE_TEST_PG names no PostgreSQL server"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                "PostgreSQL tests skipped: set UCTRIAGE_TEST_PG=postgres://postgres@127.0.0.1:5432/test to run them"
            );
            }
            None
        }
    }
}

impl Database {
    /// A new empty database, or `None` (with the reason on stderr) when no server is configured.
    pub async fn create() -> Option<Database> {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = server()?;
        let name = format!("uctriage_t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("UCTRIAGE_TEST_PG={admin}: cannot connect: {e}"));
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(Database { url: format!("{base}/{name}"), admin, name })
    }

    /// Drop the database.
    pub async fn drop(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ =
                sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn).await;
        }
    }
}
