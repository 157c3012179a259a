//! Answers to list requests, kept in memory until the app's data change. A list is the most
//! frequent request an app gets and the most expensive (a count and a page of rows turned into
//! JSON); most of them repeat the previous answer.
//!
//! Correctness rests on one counter per app, bumped after every write request finishes (before
//! its response goes out) and whenever the runtime forgets an app (deploy, rollback, repair).
//! An answer is kept only if no bump happened while it was computed, and served only while the
//! counter still has the value it was computed under. Only one process may write an app's
//! storage for this to hold, so the cache is on for SQLite storage (one `kiln serve` owns the
//! files) and off on Postgres, where several replicas share the apps' schemas.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept at most; when full the cache starts again empty.
const MAX_ENTRIES: usize = 4096;
/// Answers larger than this are not kept.
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub app: i64,
    pub version: i64,
    /// The request's path and query, as sent.
    pub target: String,
    /// Whose view it is (access rules differ per end user).
    pub viewer: Option<i64>,
}

#[derive(Default)]
struct State {
    generations: HashMap<i64, u64>,
    entries: HashMap<Key, (u64, Bytes)>,
}

pub(crate) struct ListCache {
    enabled: bool,
    state: Mutex<State>,
}

impl ListCache {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, state: Mutex::default() }
    }

    /// The app's write counter now (taken before a list is computed).
    pub fn generation(&self, app: i64) -> u64 {
        self.state.lock().map_or(0, |s| s.generations.get(&app).copied().unwrap_or(0))
    }

    pub fn get(&self, key: &Key) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let s = self.state.lock().ok()?;
        let now = s.generations.get(&key.app).copied().unwrap_or(0);
        match s.entries.get(key) {
            Some((g, body)) if *g == now => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps an answer computed from data read after `generation` was taken, unless a write
    /// has finished since.
    pub fn put(&self, key: Key, generation: u64, body: Bytes) {
        if !self.enabled || body.len() > MAX_BODY {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        if s.generations.get(&key.app).copied().unwrap_or(0) != generation {
            return;
        }
        if s.entries.len() >= MAX_ENTRIES {
            s.entries.clear();
        }
        s.entries.insert(key, (generation, body));
    }

    /// Something outside the API changed apps (a deploy, rollback or repair): nothing kept
    /// is trusted any more.
    pub fn clear(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.generations.values_mut().for_each(|g| *g += 1);
            s.entries.clear();
        }
    }

    /// A write to the app finished: its kept answers are stale.
    pub fn bump(&self, app: i64) {
        if let Ok(mut s) = self.state.lock() {
            *s.generations.entry(app).or_default() += 1;
            s.entries.retain(|k, _| k.app != app);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(viewer: Option<i64>) -> Key {
        Key { app: 1, version: 1, target: "/api/tasks".into(), viewer }
    }

    #[test]
    fn a_write_during_the_computation_keeps_the_answer_out() {
        let c = ListCache::new(true);
        let g = c.generation(1);
        c.bump(1);
        c.put(key(None), g, Bytes::from_static(b"old"));
        assert_eq!(c.get(&key(None)), None);
    }

    #[test]
    fn answers_are_per_viewer_and_end_with_the_next_write() {
        let c = ListCache::new(true);
        let g = c.generation(1);
        c.put(key(Some(7)), g, Bytes::from_static(b"seven's"));
        assert_eq!(c.get(&key(Some(7))).as_deref(), Some(&b"seven's"[..]));
        assert_eq!(c.get(&key(None)), None);
        c.bump(2);
        assert!(c.get(&key(Some(7))).is_some(), "another app's write");
        c.bump(1);
        assert_eq!(c.get(&key(Some(7))), None);
    }

    #[test]
    fn disabled_keeps_nothing() {
        let c = ListCache::new(false);
        c.put(key(None), c.generation(1), Bytes::from_static(b"x"));
        assert_eq!(c.get(&key(None)), None);
    }
}
