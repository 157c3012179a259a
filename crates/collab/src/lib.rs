//! Live co-editing of an app's description. Each app's description is a yrs document (Yjs
//! compatible) with a `Y.Text` named `description`, served over the y-sync protocol (sync step
//! 1/2, update, awareness, auth) so that unmodified Yjs clients (npm `y-websocket`) take part.
//!
//! Each open document is a room: one task owns the document and its peers, and everything that
//! touches them (a peer joining or leaving, a frame, a server-side edit, another replica's
//! updates) is a command to that task. Updates are applied, then written to the database (the
//! ones that arrived together in one transaction), and only then sent to the other peers, so
//! nothing is shown or acknowledged that a crash could lose. A peer that does not read its
//! messages is disconnected rather than allowed to hold up the others. A room with no peers is
//! unloaded. The update log is compacted into a snapshot every so often.
//!
//! The transport (a WebSocket) stays outside: [`Hub::connect`] gives a [`Connection`] that takes
//! incoming binary frames and yields what to send.

mod relay;
mod room;

pub use relay::Relay;
pub use room::text_of;

use kiln_store::collab::Role;
use kiln_store::{Clock, Db, StoreError};
use room::{Cmd, RoomHandle};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// The name of the shared text in every description document.
pub const TEXT: &str = "description";

/// Limits on what one connection and one document may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest frame a client may send.
    pub max_frame: usize,
    /// The largest a document may grow (its snapshot plus updates since, in bytes).
    pub max_doc: usize,
    /// Connections one person may have open at once, over all apps.
    pub max_connections_per_user: usize,
    /// Messages queued for a peer before it counts as not reading and is disconnected.
    pub peer_queue: usize,
    /// Updates written since the last snapshot before the log is compacted.
    pub compact_after: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: 1 << 20,
            max_doc: 4 << 20,
            max_connections_per_user: 32,
            peer_queue: 1024,
            compact_after: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollabError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("too many open connections (at most {0} per person)")]
    TooManyConnections(usize),
    #[error("the document could not be loaded: {0}")]
    Load(String),
    #[error("the document is unavailable")]
    Gone,
}

/// What the transport should do: send a binary frame, or close with a code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Shared between the peers it goes to (cloning it does not copy).
    Binary(bytes::Bytes),
    Close(u16, String),
}

/// WebSocket close codes used.
pub mod close {
    /// Not a y-sync message, or an update that does not decode.
    pub const UNSUPPORTED: u16 = 1003;
    /// A frame over the size limit, or a document that would grow past its limit.
    pub const TOO_BIG: u16 = 1009;
    /// The peer's access was removed or changed.
    pub const POLICY: u16 = 1008;
    /// The server could not keep the document (e.g. a database error): reconnect.
    pub const SERVER_ERROR: u16 = 1011;
    /// The peer did not read its messages fast enough.
    pub const TOO_SLOW: u16 = 4000;
}

struct Inner {
    db: Db,
    clock: Clock,
    limits: Limits,
    rooms: tokio::sync::Mutex<HashMap<i64, RoomHandle>>,
    connections: std::sync::Mutex<HashMap<i64, usize>>,
    next_peer: AtomicU64,
    relay: Option<Relay>,
}

/// All open documents of this process. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("limits", &self.inner.limits).finish_non_exhaustive()
    }
}

/// Who is connecting: their user id, how they are shown to others, and their role.
#[derive(Debug, Clone)]
pub struct Peer {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
}

impl Hub {
    pub fn new(db: Db, clock: Clock, limits: Limits) -> Self {
        Self::build(db, clock, limits, None)
    }

    /// With `relay`, updates and presence written by other processes on the same Postgres
    /// database reach this process's peers (see [`Relay`]).
    pub fn with_relay(db: Db, clock: Clock, limits: Limits, relay: Relay) -> Self {
        Self::build(db, clock, limits, Some(relay))
    }

    fn build(db: Db, clock: Clock, limits: Limits, relay: Option<Relay>) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                limits,
                rooms: tokio::sync::Mutex::new(HashMap::new()),
                connections: std::sync::Mutex::new(HashMap::new()),
                next_peer: AtomicU64::new(1),
                relay,
            }),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Sends `cmd` to the app's room, opening the room (loading the document) if needed, and
    /// gives back the room it went to.
    async fn send(&self, app_id: i64, cmd: Cmd) -> Result<RoomHandle, CollabError> {
        let mut rooms = self.inner.rooms.lock().await;
        let room = match rooms.get(&app_id) {
            Some(r) if !r.tx.is_closed() => r.clone(),
            _ => {
                let r = room::open(self.clone(), app_id);
                rooms.insert(app_id, r.clone());
                r
            }
        };
        // Sent while holding the map: a room only closes after checking, under the same
        // lock, that nothing is waiting for it.
        room.tx.send(cmd).await.map_err(|_| CollabError::Gone)?;
        Ok(room)
    }

    /// Joins an app's document. The connection's first messages (sync step 1, presence) are
    /// queued at once; nothing is sent to anyone without a role (the caller checked it).
    pub async fn connect(&self, app_id: i64, peer: Peer) -> Result<Connection, CollabError> {
        let max = self.inner.limits.max_connections_per_user;
        {
            let mut open = self.inner.connections.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(peer.user_id).or_default();
            if *n >= max {
                return Err(CollabError::TooManyConnections(max));
            }
            *n += 1;
        }
        let guard = ConnectionCount { hub: self.clone(), user_id: peer.user_id };
        let id = self.inner.next_peer.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.inner.limits.peer_queue);
        let (done_tx, done) = oneshot::channel();
        let room =
            self.send(app_id, Cmd::Join { id, peer: peer.clone(), tx, done: done_tx }).await?;
        done.await.map_err(|_| CollabError::Gone)??;
        Ok(Connection { hub: self.clone(), room, id, rx, _count: guard })
    }

    /// The document's text now (loading it when no one has it open).
    pub async fn text(&self, app_id: i64) -> Result<String, CollabError> {
        let (tx, rx) = oneshot::channel();
        let _ = self.send(app_id, Cmd::Text { reply: tx }).await?;
        rx.await.map_err(|_| CollabError::Gone)?
    }

    /// Replaces the text (a server-side edit: only the part that differs changes, so carets in
    /// connected editors stay where they were). Written before it returns.
    pub async fn replace_text(&self, app_id: i64, text: &str) -> Result<(), CollabError> {
        let (tx, rx) = oneshot::channel();
        let _ = self.send(app_id, Cmd::Replace { text: text.to_owned(), reply: tx }).await?;
        rx.await.map_err(|_| CollabError::Gone)?
    }

    /// Closes the connections `user_id` has on the app (their role was removed or changed).
    pub async fn disconnect_user(&self, app_id: i64, user_id: i64, reason: &str) {
        let open = self.inner.rooms.lock().await.get(&app_id).cloned();
        if let Some(room) = open {
            let _ =
                room.tx.send(Cmd::Kick { user_id: Some(user_id), reason: reason.to_owned() }).await;
        }
    }

    /// Closes every connection to the app's document (the app was deleted).
    pub async fn close_app(&self, app_id: i64, reason: &str) {
        let open = self.inner.rooms.lock().await.get(&app_id).cloned();
        if let Some(room) = open {
            let _ = room.tx.send(Cmd::Kick { user_id: None, reason: reason.to_owned() }).await;
        }
    }

    /// Documents open in this process.
    pub async fn open_rooms(&self) -> usize {
        self.inner.rooms.lock().await.values().filter(|r| !r.tx.is_closed()).count()
    }

    /// Another process wrote updates or presence for `app_id` (rows after those seen).
    pub(crate) async fn remote_changed(&self, app_id: i64) {
        let open = self.inner.rooms.lock().await.get(&app_id).cloned();
        if let Some(room) = open {
            let _ = room.tx.send(Cmd::Remote).await;
        }
    }
}

/// Gives back a connection's place in its owner's count when it ends.
struct ConnectionCount {
    hub: Hub,
    user_id: i64,
}

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        let mut open = self.hub.inner.connections.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// One peer's connection to a document. Dropping it leaves the room (its presence is removed
/// for the others).
pub struct Connection {
    hub: Hub,
    /// The room this peer joined. Frames go straight to it: a room keeps running while it has
    /// peers, and once it has let this one go, sending fails and the connection closes.
    room: RoomHandle,
    id: u64,
    rx: mpsc::Receiver<Outgoing>,
    _count: ConnectionCount,
}

impl Connection {
    /// What to send next; `None` when the room has let go of this peer (then close).
    pub async fn next(&mut self) -> Option<Outgoing> {
        self.rx.recv().await
    }

    /// What is queued to send already, without waiting (so that a transport can write several
    /// messages at once and flush once).
    pub fn try_next(&mut self) -> Option<Outgoing> {
        self.rx.try_recv().ok()
    }

    /// A binary frame from the peer. `Err` carries the close to send: the frame was refused and
    /// nothing of it was applied.
    pub async fn receive(&self, frame: Vec<u8>) -> Result<(), Outgoing> {
        if frame.len() > self.hub.inner.limits.max_frame {
            return Err(Outgoing::Close(
                close::TOO_BIG,
                format!("message too large (at most {} bytes)", self.hub.inner.limits.max_frame),
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.room
            .tx
            .send(Cmd::Frame { id: self.id, frame, done: tx })
            .await
            .map_err(|_| Outgoing::Close(close::SERVER_ERROR, "the document closed".into()))?;
        rx.await.map_err(|_| Outgoing::Close(close::SERVER_ERROR, "the document closed".into()))?
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let id = self.id;
        // Leaving needs the room's task: without waiting when its queue has room, else handed
        // to a task (a destructor cannot wait).
        match self.room.tx.try_send(Cmd::Leave { id }) {
            Err(mpsc::error::TrySendError::Full(cmd)) => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let room = self.room.clone();
                    rt.spawn(async move {
                        let _ = room.tx.send(cmd).await;
                    });
                }
            }
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
