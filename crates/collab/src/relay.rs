//! Several `kiln serve` processes on one Postgres database: each announces, after writing, that
//! an app's document changed (`NOTIFY kiln_collab, '<app id>'`); every process listening reads
//! the rows after the ones it has seen and passes them to its own peers. Notifications carry
//! only the app id (NOTIFY payloads are limited to 8000 bytes); the data are rows.

use crate::Hub;
use kiln_store::{Db, Millis, StoreError};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "kiln_collab";

/// This process's end of the relay. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Relay {
    pool: PgPool,
    replica: Arc<str>,
}

impl Relay {
    /// A relay on the database, if it is Postgres (one SQLite process needs none).
    pub fn for_db(db: &Db) -> Option<Relay> {
        match db {
            Db::Postgres(pool) => {
                Some(Relay { pool: pool.clone(), replica: format!("{:016x}", rand_id()).into() })
            }
            Db::Sqlite(_) => None,
        }
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Tells the other processes that `app_id`'s document has new rows.
    pub(crate) async fn announce(&self, app_id: i64) {
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(app_id.to_string())
            .execute(&self.pool)
            .await
        {
            tracing::warn!(app_id, error = %e, "could not announce a document change");
        }
    }

    /// Writes a presence update for the other processes (kept about a minute).
    pub(crate) async fn publish_presence(&self, app_id: i64, update: &[u8], now: Millis) {
        let res =
            sqlx::query("INSERT INTO doc_awareness (app_id, data, created_at) VALUES ($1, $2, $3)")
                .bind(app_id)
                .bind([self.replica.as_bytes(), b"\n", update].concat())
                .bind(now)
                .execute(&self.pool)
                .await;
        match res {
            Ok(_) => self.announce(app_id).await,
            Err(e) => tracing::warn!(app_id, error = %e, "could not relay presence"),
        }
        let _ = sqlx::query("DELETE FROM doc_awareness WHERE created_at < $1")
            .bind(now - 60_000)
            .execute(&self.pool)
            .await;
    }

    /// The newest presence row of an app (a room starts reading after it).
    pub(crate) async fn latest_presence(&self, app_id: i64) -> Result<i64, StoreError> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM doc_awareness WHERE app_id = $1")
                .bind(app_id)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::from)?;
        Ok(n.unwrap_or(0))
    }

    /// Presence rows after `after`: (id, update, the replica that wrote it).
    pub(crate) async fn presence_after(
        &self,
        app_id: i64,
        after: i64,
    ) -> Result<Vec<(i64, Vec<u8>, String)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, data FROM doc_awareness WHERE app_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(app_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, data)| {
                let at = data.iter().position(|b| *b == b'\n')?;
                let replica = String::from_utf8_lossy(&data[..at]).into_owned();
                Some((id, data[at + 1..].to_vec(), replica))
            })
            .collect())
    }
}

impl Hub {
    /// Listens for other processes' announcements until the process ends (reconnecting after
    /// a lost connection, and then re-reading every open document).
    pub async fn listen(self) {
        let Some(relay) = self.inner.relay.clone() else { return };
        loop {
            match PgListener::connect_with(&relay.pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing::warn!(error = %e, "could not listen for document changes");
                    } else {
                        // Anything announced while not listening.
                        let open: Vec<i64> =
                            self.inner.rooms.lock().await.keys().copied().collect();
                        for app_id in open {
                            self.remote_changed(app_id).await;
                        }
                        loop {
                            // `None`: the connection was lost, and announcements with it. Start
                            // over (listen again, then re-read every open document).
                            match listener.try_recv().await {
                                Ok(Some(n)) => {
                                    if let Ok(app_id) = n.payload().parse::<i64>() {
                                        self.remote_changed(app_id).await;
                                    }
                                }
                                Ok(None) => {
                                    tracing::warn!(
                                        "lost the document-change listener; reconnecting"
                                    );
                                    break;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "lost the document-change listener");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not connect the document-change listener")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}
