//! The delivery worker: leases due outbox rows, sends them, records the outcome.

use crate::transport::{Transport, TransportError};
use kiln_store::{Clock, Db, outbox};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a claimed message stays leased to one worker.
const LEASE_MS: i64 = 60_000;
/// Messages claimed per round.
const BATCH: i64 = 20;
/// How often the queue is looked at when nobody rings.
const POLL: Duration = Duration::from_secs(2);

/// Delay before attempt `attempts + 1`: `base_ms` doubling per failed attempt, capped at one
/// hour.
pub fn backoff_ms(attempts: i64, base_ms: i64) -> i64 {
    let exp = attempts.saturating_sub(1).clamp(0, 20) as u32;
    (base_ms.saturating_mul(1i64 << exp)).min(3_600_000)
}

/// Delivers queued mail.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    transport: Transport,
    from: String,
    wake: Arc<Notify>,
    clock: Clock,
    retry_base_ms: i64,
}

impl Worker {
    pub fn new(db: Db, transport: Transport, from: String, clock: Clock) -> Self {
        Self { db, transport, from, wake: Arc::new(Notify::new()), clock, retry_base_ms: 30_000 }
    }

    /// The first retry delay (doubling after each failure); 30 s by default.
    pub fn with_retry_base(mut self, base: std::time::Duration) -> Self {
        self.retry_base_ms = (base.as_millis() as i64).max(1);
        self
    }

    /// A handle that wakes the worker at once (after a commit that queued mail).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers every message due now; returns how many were sent.
    pub async fn run_pending(&self) -> Result<usize, kiln_store::StoreError> {
        let mut sent = 0;
        loop {
            let now = self.clock.now();
            let rows = outbox::claim_due(&self.db, now, LEASE_MS, BATCH).await?;
            if rows.is_empty() {
                return Ok(sent);
            }
            for row in rows {
                match self.transport.send(&row, &self.from).await {
                    Ok(()) => {
                        outbox::mark_sent(&self.db, row.id, self.clock.now()).await?;
                        tracing::info!(mail_id = row.id, template = %row.template,
                            transport = self.transport.name(), "mail delivered");
                        sent += 1;
                    }
                    Err(e) => {
                        // A permanent failure is still retried, slowly: an operator may fix the
                        // sender address; the error stays visible on the row meanwhile.
                        let attempts = row.attempts;
                        let delay = match e {
                            TransportError::Permanent(_) => 3_600_000,
                            TransportError::Transient(_) => {
                                backoff_ms(attempts, self.retry_base_ms)
                            }
                        };
                        tracing::warn!(mail_id = row.id, attempts, error = %e, "mail delivery failed");
                        outbox::mark_failed(
                            &self.db,
                            row.id,
                            &e.to_string(),
                            self.clock.now() + delay,
                        )
                        .await?;
                    }
                }
            }
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_pending().await {
                tracing::error!(error = %e, "mail worker could not read the outbox");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                tracing::info!("mail worker stopped");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1, 30_000), 30_000);
        assert_eq!(backoff_ms(2, 30_000), 60_000);
        assert_eq!(backoff_ms(3, 30_000), 120_000);
        assert_eq!(backoff_ms(50, 30_000), 3_600_000);
        assert_eq!(backoff_ms(0, 30_000), 30_000);
        assert_eq!(backoff_ms(2, 1_000), 2_000);
    }
}
