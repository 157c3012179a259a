//! One open document: the task that owns it, its peers, and the y-sync protocol.

use crate::{CollabError, Hub, Outgoing, Peer, TEXT, close};
use bytes::Bytes;
use kiln_store::{apps, collab};
use std::collections::{HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};
use yrs::block::ClientID;
use yrs::encoding::read::Cursor;
use yrs::sync::{Awareness, AwarenessUpdate, Message, MessageReader, SyncMessage};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{
    Doc, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef, Transact, Update,
};

/// Commands to a room's task.
pub(crate) enum Cmd {
    Join {
        id: u64,
        peer: Peer,
        tx: mpsc::Sender<Outgoing>,
        done: oneshot::Sender<Result<(), CollabError>>,
    },
    Leave {
        id: u64,
    },
    Frame {
        id: u64,
        frame: Vec<u8>,
        done: oneshot::Sender<Result<(), Outgoing>>,
    },
    Text {
        reply: oneshot::Sender<Result<String, CollabError>>,
    },
    Replace {
        text: String,
        reply: oneshot::Sender<Result<(), CollabError>>,
    },
    /// Closes the connections of one user (or of everyone).
    Kick {
        user_id: Option<i64>,
        reason: String,
    },
    /// Another process wrote updates or presence.
    Remote,
}

#[derive(Clone)]
pub(crate) struct RoomHandle {
    pub tx: mpsc::Sender<Cmd>,
}

/// Starts the task of an app's document; it loads the document first.
pub(crate) fn open(hub: Hub, app_id: i64) -> RoomHandle {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(hub, app_id, rx));
    RoomHandle { tx }
}

/// A new document with the same text indexing as Yjs (UTF-16 code units).
fn new_doc() -> Doc {
    Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() })
}

/// The text of a stored document state (an encoded update).
pub fn text_of(state: &[u8]) -> Result<String, String> {
    let doc = new_doc();
    let text = doc.get_or_insert_text(TEXT);
    let update = Update::decode_v1(state).map_err(|e| e.to_string())?;
    doc.transact_mut().apply_update(update).map_err(|e| e.to_string())?;
    Ok(text.get_string(&doc.transact()))
}

fn encode(m: &Message) -> Vec<u8> {
    m.encode_v1()
}

struct PeerState {
    peer: Peer,
    tx: mpsc::Sender<Outgoing>,
    /// Presence client ids this connection announced (removed when it leaves).
    clients: HashSet<ClientID>,
}

struct Room {
    hub: Hub,
    app_id: i64,
    awareness: Awareness,
    text: TextRef,
    peers: HashMap<u64, PeerState>,
    /// Every update row up to this id is in the document.
    cursor: i64,
    /// Rows this process wrote past `cursor` (no need to send them to peers again).
    own: HashSet<i64>,
    awareness_cursor: i64,
    since_snapshot: usize,
    size: usize,
    /// The database refused a write: the document in memory may hold what it does not.
    broken: bool,
}

async fn run(hub: Hub, app_id: i64, mut rx: mpsc::Receiver<Cmd>) {
    let mut room = match Room::load(&hub, app_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(app_id, error = %e, "could not load a description document");
            let why = e.to_string();
            close_room(&hub, app_id, &mut rx).await;
            while let Ok(cmd) = rx.try_recv() {
                refuse(cmd, &why);
            }
            return;
        }
    };
    loop {
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        room.handle(batch).await;
        if room.broken {
            for (_, p) in room.peers.drain() {
                let _ = p.tx.try_send(Outgoing::Close(
                    close::SERVER_ERROR,
                    "the document could not be saved; reconnect".into(),
                ));
            }
            close_room(&hub, app_id, &mut rx).await;
            while let Ok(cmd) = rx.try_recv() {
                refuse(cmd, "the document could not be saved; reconnect");
            }
            return;
        }
        if room.peers.is_empty() {
            // Unload, unless a command is already waiting (checked under the hub's lock,
            // which senders hold while sending).
            let mut rooms = hub.inner.rooms.lock().await;
            if rx.is_empty() {
                rooms.remove(&app_id);
                rx.close();
                return;
            }
        }
    }
}

async fn close_room(hub: &Hub, app_id: i64, rx: &mut mpsc::Receiver<Cmd>) {
    let mut rooms = hub.inner.rooms.lock().await;
    rooms.remove(&app_id);
    rx.close();
}

fn refuse(cmd: Cmd, why: &str) {
    match cmd {
        Cmd::Join { done, .. } => {
            let _ = done.send(Err(CollabError::Load(why.to_owned())));
        }
        Cmd::Frame { done, .. } => {
            let _ = done.send(Err(Outgoing::Close(close::SERVER_ERROR, why.to_owned())));
        }
        Cmd::Text { reply } => {
            let _ = reply.send(Err(CollabError::Load(why.to_owned())));
        }
        Cmd::Replace { reply, .. } => {
            let _ = reply.send(Err(CollabError::Load(why.to_owned())));
        }
        Cmd::Leave { .. } | Cmd::Kick { .. } | Cmd::Remote => {}
    }
}

/// What one batch of commands produced, sent once its updates are written.
#[derive(Default)]
struct Outcome {
    /// Updates to write, then send to every peer but the one they came from.
    updates: Vec<(Vec<u8>, Option<u64>)>,
    /// Messages to send as they are (presence, and other processes' updates, already
    /// written) to every peer but the one they came from.
    presence: Vec<(Vec<u8>, Option<u64>)>,
    /// This process's presence updates, for the other processes (with a relay).
    publish: Vec<Vec<u8>>,
    frames: Vec<oneshot::Sender<Result<(), Outgoing>>>,
    texts: Vec<oneshot::Sender<Result<String, CollabError>>>,
    replaced: Vec<oneshot::Sender<Result<(), CollabError>>>,
}

impl Room {
    async fn load(hub: &Hub, app_id: i64) -> Result<Room, CollabError> {
        let db = &hub.inner.db;
        let mut stored = collab::load_doc(db, app_id).await?;
        if stored.snapshot.is_none() && stored.updates.is_empty() {
            // The first time: the document starts from the app's description.
            let app = apps::get(db, app_id).await?.ok_or(CollabError::Gone)?;
            let doc = new_doc();
            let text = doc.get_or_insert_text(TEXT);
            {
                let mut txn = doc.transact_mut();
                text.insert(&mut txn, 0, &app.description);
            }
            let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
            collab::seed_doc(db, app_id, &state, hub.inner.clock.now()).await?;
            // Seeded here or by another process at the same moment: load what won.
            stored = collab::load_doc(db, app_id).await?;
        }
        let doc = new_doc();
        let text = doc.get_or_insert_text(TEXT);
        let mut size = 0;
        let mut cursor = 0;
        {
            let mut txn = doc.transact_mut();
            if let Some((state, upto)) = &stored.snapshot {
                let u = Update::decode_v1(state).map_err(|e| CollabError::Load(e.to_string()))?;
                txn.apply_update(u).map_err(|e| CollabError::Load(e.to_string()))?;
                size += state.len();
                cursor = *upto;
            }
            for (id, data) in &stored.updates {
                let u = Update::decode_v1(data).map_err(|e| CollabError::Load(e.to_string()))?;
                txn.apply_update(u).map_err(|e| CollabError::Load(e.to_string()))?;
                size += data.len();
                cursor = cursor.max(*id);
            }
        }
        let awareness_cursor = match &hub.inner.relay {
            Some(r) => r.latest_presence(app_id).await?,
            None => 0,
        };
        Ok(Room {
            hub: hub.clone(),
            app_id,
            awareness: Awareness::new(doc),
            text,
            peers: HashMap::new(),
            cursor,
            own: HashSet::new(),
            awareness_cursor,
            since_snapshot: stored.updates.len(),
            size,
            broken: false,
        })
    }

    fn text_now(&self) -> String {
        self.text.get_string(&self.awareness.doc().transact())
    }

    async fn handle(&mut self, batch: Vec<Cmd>) {
        let mut out = Outcome::default();
        for cmd in batch {
            match cmd {
                Cmd::Join { id, peer, tx, done } => {
                    // One message per frame: y-websocket's client reads only the first message
                    // of a frame.
                    let sv = self.awareness.doc().transact().state_vector();
                    let first = encode(&Message::Sync(SyncMessage::SyncStep1(sv)));
                    let _ = tx.try_send(Outgoing::Binary(first.into()));
                    if let Ok(states) = self.awareness.update()
                        && !states.clients.is_empty()
                    {
                        let _ = tx
                            .try_send(Outgoing::Binary(encode(&Message::Awareness(states)).into()));
                    }
                    self.peers.insert(id, PeerState { peer, tx, clients: HashSet::new() });
                    let _ = done.send(Ok(()));
                }
                Cmd::Leave { id } => self.remove_peer(id, None, &mut out),
                Cmd::Frame { id, frame, done } => match self.frame(id, &frame, &mut out) {
                    Ok(()) => out.frames.push(done),
                    Err(close) => {
                        let _ = done.send(Err(close));
                        self.remove_peer(id, None, &mut out);
                    }
                },
                Cmd::Text { reply } => out.texts.push(reply),
                Cmd::Replace { text, reply } => {
                    if let Some(u) = self.replace(&text) {
                        self.size += u.len();
                        out.updates.push((u, None));
                    }
                    out.replaced.push(reply);
                }
                Cmd::Kick { user_id, reason } => {
                    let ids: Vec<u64> = self
                        .peers
                        .iter()
                        .filter(|(_, p)| user_id.is_none_or(|u| p.peer.user_id == u))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in ids {
                        self.remove_peer(id, Some((close::POLICY, reason.clone())), &mut out);
                    }
                }
                Cmd::Remote => self.pull(&mut out).await,
            }
        }
        self.finish(out).await;
    }

    /// Applies one frame from a peer. Everything in it is checked before anything is applied.
    fn frame(&mut self, id: u64, frame: &[u8], out: &mut Outcome) -> Result<(), Outgoing> {
        let refuse = |code: u16, why: String| Outgoing::Close(code, why);
        let Some(peer) = self.peers.get(&id) else {
            return Err(refuse(close::POLICY, "not connected to this document".into()));
        };
        let mut decoder = DecoderV1::new(Cursor::new(frame));
        let messages: Vec<Message> = MessageReader::new(&mut decoder)
            .collect::<Result<_, _>>()
            .map_err(|e| refuse(close::UNSUPPORTED, format!("not a y-sync message ({e})")))?;
        if messages.is_empty() {
            return Err(refuse(close::UNSUPPORTED, "an empty message".into()));
        }
        let can_edit = peer.peer.role.can_edit();
        let max_doc = self.hub.inner.limits.max_doc;
        // First pass: decode and check everything.
        let mut updates = Vec::new();
        let mut grows = 0;
        for m in &messages {
            match m {
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    let update = Update::decode_v1(u).map_err(|e| {
                        refuse(close::UNSUPPORTED, format!("an update that does not decode ({e})"))
                    })?;
                    grows += u.len();
                    updates.push(Some(update));
                }
                Message::Custom(tag, _) => {
                    return Err(refuse(
                        close::UNSUPPORTED,
                        format!("not a y-sync message (type {tag})"),
                    ));
                }
                _ => updates.push(None),
            }
        }
        let writes = updates.iter().flatten().any(|u| !u.is_empty());
        if writes && can_edit && self.size + grows > max_doc {
            return Err(refuse(
                close::TOO_BIG,
                format!("the description would grow past its limit ({max_doc} bytes)"),
            ));
        }
        // Second pass: apply and answer.
        let mut replies = Vec::new();
        let mut denied = false;
        for (m, update) in messages.into_iter().zip(updates) {
            match (m, update) {
                (Message::Sync(SyncMessage::SyncStep1(sv)), _) => {
                    let diff = self.awareness.doc().transact().encode_state_as_update_v1(&sv);
                    replies.push(encode(&Message::Sync(SyncMessage::SyncStep2(diff))));
                }
                (
                    Message::Sync(SyncMessage::SyncStep2(raw) | SyncMessage::Update(raw)),
                    Some(update),
                ) => {
                    if update.is_empty() {
                        continue;
                    }
                    if !can_edit {
                        denied = true;
                        continue;
                    }
                    self.awareness.doc().transact_mut().apply_update(update).map_err(|e| {
                        refuse(close::UNSUPPORTED, format!("an update that cannot apply ({e})"))
                    })?;
                    self.size += raw.len();
                    out.updates.push((raw, Some(id)));
                }
                (Message::Awareness(update), _) => self.presence(id, update, out)?,
                (Message::AwarenessQuery, _) => {
                    if let Ok(all) = self.awareness.update() {
                        replies.push(encode(&Message::Awareness(all)));
                    }
                }
                _ => {}
            }
        }
        if denied {
            replies.push(encode(&Message::Auth(Some(
                "permission denied: viewers cannot edit this description".into(),
            ))));
        }
        for r in replies {
            self.send_to(id, r.into());
        }
        Ok(())
    }

    fn presence(
        &mut self,
        id: u64,
        update: AwarenessUpdate,
        out: &mut Outcome,
    ) -> Result<(), Outgoing> {
        if let Some(p) = self.peers.get_mut(&id) {
            p.clients.extend(update.clients.keys().copied());
        }
        let raw = update.encode_v1();
        let message = encode(&Message::Awareness(update.clone()));
        self.awareness.apply_update(update).map_err(|e| {
            Outgoing::Close(
                close::UNSUPPORTED,
                format!("a presence update that cannot apply ({e})"),
            )
        })?;
        // To everyone, the sender included (as y-websocket's server does: a client alone still
        // hears its own presence renewals and so knows the connection is alive).
        out.presence.push((message, None));
        out.publish.push(raw);
        Ok(())
    }

    /// A server-side edit that makes the text `new`: only the part between the common prefix
    /// and suffix changes (in UTF-16 units, never splitting a surrogate pair).
    fn replace(&mut self, new: &str) -> Option<Vec<u8>> {
        let old = self.text_now();
        if old == new {
            return None;
        }
        let a: Vec<u16> = old.encode_utf16().collect();
        let b: Vec<u16> = new.encode_utf16().collect();
        let s = kiln_core::text::changed_stretch(&a, &b);
        let inserted = String::from_utf16_lossy(&b[s.start..s.new_end]);
        let doc = self.awareness.doc().clone();
        let mut txn = doc.transact_mut();
        if s.old_end > s.start {
            self.text.remove_range(&mut txn, s.start as u32, (s.old_end - s.start) as u32);
        }
        if !inserted.is_empty() {
            self.text.insert(&mut txn, s.start as u32, &inserted);
        }
        Some(txn.encode_update_v1())
    }

    /// Queues a message for one peer; a peer whose queue is full is let go (it closes).
    fn send_to(&mut self, id: u64, message: Bytes) {
        let full = match self.peers.get(&id) {
            Some(p) => p.tx.try_send(Outgoing::Binary(message)).is_err(),
            None => false,
        };
        if full {
            tracing::info!(
                app_id = self.app_id,
                peer = id,
                "a collaborator is not reading; let go"
            );
            let mut out = Outcome::default();
            self.remove_peer(id, None, &mut out);
            for (m, from) in out.presence {
                self.broadcast(&m, from);
            }
        }
    }

    /// One copy of the message, shared by every peer's queue.
    fn broadcast(&mut self, message: &[u8], except: Option<u64>) {
        let message = Bytes::copy_from_slice(message);
        let ids: Vec<u64> = self.peers.keys().copied().filter(|id| Some(*id) != except).collect();
        for id in ids {
            self.send_to(id, message.clone());
        }
    }

    /// Sends a batch's updates. One update goes to every peer but its sender. Several that
    /// arrived together (under load) go out merged into one message for every peer: far fewer,
    /// larger messages, one merge per batch. A sender then also receives its own changes, which
    /// Yjs clients ignore (y-websocket's server sends every update to every peer).
    fn broadcast_updates(&mut self, updates: Vec<(Vec<u8>, Option<u64>)>) {
        let message = |u: &[u8]| encode(&Message::Sync(SyncMessage::Update(u.to_vec())));
        if let [(u, from)] = updates.as_slice() {
            return self.broadcast(&message(u), *from);
        }
        match yrs::merge_updates_v1(updates.iter().map(|(u, _)| u.as_slice())) {
            Ok(merged) => self.broadcast(&message(&merged), None),
            // They all decoded when they arrived; should merging still fail, send them as
            // they came.
            Err(e) => {
                tracing::warn!(app_id = self.app_id, error = %e, "merging updates");
                for (u, from) in &updates {
                    self.broadcast(&message(u), *from);
                }
            }
        }
    }

    /// Removes a peer (closing it with `close` when given) and its presence.
    fn remove_peer(&mut self, id: u64, close: Option<(u16, String)>, out: &mut Outcome) {
        let Some(p) = self.peers.remove(&id) else { return };
        if let Some((code, why)) = close {
            let _ = p.tx.try_send(Outgoing::Close(code, why));
        }
        if p.clients.is_empty() {
            return;
        }
        for c in &p.clients {
            self.awareness.remove_state(*c);
        }
        if let Ok(gone) = self.awareness.update_with_clients(p.clients.iter().copied()) {
            out.publish.push(gone.encode_v1());
            out.presence.push((encode(&Message::Awareness(gone)), None));
        }
    }

    /// Another process's updates and presence, from the database.
    async fn pull(&mut self, out: &mut Outcome) {
        let db = self.hub.inner.db.clone();
        match collab::updates_after(&db, self.app_id, self.cursor).await {
            Ok(rows) => {
                for (id, data) in rows {
                    self.cursor = self.cursor.max(id);
                    if self.own.remove(&id) {
                        continue;
                    }
                    let Ok(u) = Update::decode_v1(&data) else { continue };
                    if self.awareness.doc().transact_mut().apply_update(u).is_ok() {
                        self.size += data.len();
                        self.since_snapshot += 1;
                        let m = encode(&Message::Sync(SyncMessage::Update(data)));
                        out.presence.push((m, None));
                    }
                }
                self.own.retain(|id| *id > self.cursor);
            }
            Err(e) => tracing::warn!(app_id = self.app_id, error = %e, "reading relayed updates"),
        }
        if let Some(relay) = self.hub.inner.relay.clone() {
            match relay.presence_after(self.app_id, self.awareness_cursor).await {
                Ok(rows) => {
                    for (id, data, replica) in rows {
                        self.awareness_cursor = self.awareness_cursor.max(id);
                        if replica == relay.replica() {
                            continue;
                        }
                        let Ok(u) = AwarenessUpdate::decode_v1(&data) else { continue };
                        let m = encode(&Message::Awareness(u.clone()));
                        if self.awareness.apply_update(u).is_ok() {
                            out.presence.push((m, None));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(app_id = self.app_id, error = %e, "reading relayed presence")
                }
            }
        }
    }

    /// Writes the batch's updates, then sends them and answers everyone waiting.
    async fn finish(&mut self, out: Outcome) {
        let db = self.hub.inner.db.clone();
        let now = self.hub.inner.clock.now();
        if !out.updates.is_empty() {
            let data: Vec<Vec<u8>> = out.updates.iter().map(|(u, _)| u.clone()).collect();
            match collab::append_updates(&db, self.app_id, &data, now).await {
                Ok(ids) => {
                    self.since_snapshot += ids.len();
                    self.own.extend(ids.iter().copied());
                    if let Some(relay) = &self.hub.inner.relay {
                        relay.announce(self.app_id).await;
                    }
                }
                Err(e) => {
                    tracing::error!(app_id = self.app_id, error = %e, "could not save an update");
                    self.broken = true;
                    for f in out.frames {
                        let _ = f.send(Err(Outgoing::Close(
                            close::SERVER_ERROR,
                            "the change could not be saved; reconnect".into(),
                        )));
                    }
                    let why = format!("the change could not be saved: {e}");
                    for r in out.replaced {
                        let _ = r.send(Err(CollabError::Load(why.clone())));
                    }
                    for t in out.texts {
                        let _ = t.send(Err(CollabError::Load(why.clone())));
                    }
                    return;
                }
            }
            self.broadcast_updates(out.updates);
        }
        for (m, from) in &out.presence {
            self.broadcast(m, *from);
        }
        if let Some(relay) = self.hub.inner.relay.clone() {
            for update in &out.publish {
                relay.publish_presence(self.app_id, update, now).await;
            }
        }
        for f in out.frames {
            let _ = f.send(Ok(()));
        }
        for r in out.replaced {
            let _ = r.send(Ok(()));
        }
        if !out.texts.is_empty() {
            let text = self.text_now();
            for t in out.texts {
                let _ = t.send(Ok(text.clone()));
            }
        }
        if self.since_snapshot >= self.hub.inner.limits.compact_after {
            self.compact().await;
        }
    }

    /// Merges the update log into a snapshot. Rows from other processes are read in first, so
    /// the snapshot holds every row it replaces.
    async fn compact(&mut self) {
        let mut out = Outcome::default();
        self.pull(&mut out).await;
        for (m, from) in &out.presence {
            self.broadcast(m, *from);
        }
        let upto = self.cursor.max(self.own.iter().copied().max().unwrap_or(0));
        let state =
            self.awareness.doc().transact().encode_state_as_update_v1(&StateVector::default());
        let db = self.hub.inner.db.clone();
        match collab::compact(&db, self.app_id, &state, upto, self.hub.inner.clock.now()).await {
            Ok(_) => {
                self.cursor = upto;
                self.own.clear();
                self.since_snapshot = 0;
                self.size = state.len();
            }
            Err(e) => tracing::warn!(app_id = self.app_id, error = %e, "compacting a document"),
        }
    }
}
