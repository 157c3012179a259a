//! The hub with real yrs clients on both sides of the y-sync protocol, on SQLite and (when
//! KILN_TEST_DATABASE_URL names one) Postgres.

use kiln_collab::{Hub, Limits, Outgoing, Peer, close};
use kiln_store::collab::Role;
use kiln_store::{Clock, Db, apps, users};
use yrs::encoding::read::Cursor;
use yrs::sync::{Message, MessageReader, SyncMessage};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, OffsetKind, Options, ReadTxn, Text, Transact, Update};

struct Env {
    _dir: tempfile::TempDir,
    db: Db,
    app: i64,
}

async fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(None, &dir.path().join("kiln.db")).await.expect("db");
    out.push((dir, db));
    if let Ok(url) = std::env::var("KILN_TEST_DATABASE_URL") {
        let dir = tempfile::tempdir().expect("dir");
        out.push((dir, Db::open_postgres(&url).await.expect("pg")));
    }
    let mut envs = Vec::new();
    for (dir, db) in out {
        db.migrate().await.expect("migrate");
        let mut tx = db.begin_write().await.expect("tx");
        let email = format!("owner-{}@example.com", kiln_store::system_now() + rand_suffix());
        let owner = users::insert(&mut tx, &email, "x", 0).await.expect("user");
        let slug = format!("collab-{}", kiln_store::system_now() + rand_suffix());
        let app =
            apps::insert(&mut tx, owner, "Notes", &slug, "A notes app.", 0).await.expect("app");
        tx.commit().await.expect("commit");
        envs.push(Env { _dir: dir, db, app });
    }
    envs
}

fn rand_suffix() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(1);
    (h.finish() % 1_000_000) as i64
}

fn peer(user_id: i64, role: Role) -> Peer {
    Peer { user_id, name: format!("user {user_id}"), role }
}

/// A client: its own document, as a Yjs client keeps one.
struct Client {
    doc: Doc,
}

impl Client {
    fn new() -> Self {
        Self {
            doc: Doc::with_options(Options {
                offset_kind: OffsetKind::Utf16,
                ..Options::default()
            }),
        }
    }
    fn text(&self) -> String {
        let t = self.doc.get_or_insert_text("description");
        t.get_string(&self.doc.transact())
    }
    fn step1(&self) -> Vec<u8> {
        Message::Sync(SyncMessage::SyncStep1(self.doc.transact().state_vector())).encode_v1()
    }
    /// Applies what the server sent; returns the replies a Yjs client would send.
    fn apply(&self, frame: &[u8]) -> Vec<Vec<u8>> {
        let mut replies = Vec::new();
        let mut d = DecoderV1::new(Cursor::new(frame));
        for m in MessageReader::new(&mut d) {
            match m.expect("server message") {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let u = self.doc.transact().encode_state_as_update_v1(&sv);
                    replies.push(Message::Sync(SyncMessage::SyncStep2(u)).encode_v1());
                }
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    self.doc
                        .transact_mut()
                        .apply_update(Update::decode_v1(&u).expect("u"))
                        .expect("apply");
                }
                _ => {}
            }
        }
        replies
    }
    /// Types `s` at `at`; returns the update message.
    fn type_at(&self, at: u32, s: &str) -> Vec<u8> {
        let t = self.doc.get_or_insert_text("description");
        let mut txn = self.doc.transact_mut();
        t.insert(&mut txn, at, s);
        Message::Sync(SyncMessage::Update(txn.encode_update_v1())).encode_v1()
    }
}

async fn next_binary(c: &mut kiln_collab::Connection) -> Vec<u8> {
    match tokio::time::timeout(std::time::Duration::from_secs(5), c.next()).await {
        Ok(Some(Outgoing::Binary(b))) => b.to_vec(),
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// Connects and runs the opening handshake both ways.
async fn join(hub: &Hub, app: i64, p: Peer, client: &Client) -> kiln_collab::Connection {
    let mut c = hub.connect(app, p).await.expect("connect");
    let hello = next_binary(&mut c).await;
    for r in client.apply(&hello) {
        c.receive(r).await.expect("step 2");
    }
    c.receive(client.step1()).await.expect("step 1");
    let step2 = next_binary(&mut c).await;
    client.apply(&step2);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_converge_viewers_only_read_and_everything_survives_a_restart() {
    for env in envs().await {
        let hub = Hub::new(env.db.clone(), Clock::default(), Limits::default());
        // The document starts as the app's description.
        assert_eq!(hub.text(env.app).await.expect("text"), "A notes app.");
        let (a, b, v) = (Client::new(), Client::new(), Client::new());
        let mut ca = join(&hub, env.app, peer(1, Role::Owner), &a).await;
        let mut cb = join(&hub, env.app, peer(2, Role::Editor), &b).await;
        let mut cv = join(&hub, env.app, peer(3, Role::Viewer), &v).await;
        assert_eq!(a.text(), "A notes app.");
        assert_eq!(v.text(), "A notes app.");

        // Concurrent edits from two editors converge everywhere.
        let ua = a.type_at(0, "Shared: ");
        let ub = b.type_at(12, " With tags.");
        ca.receive(ua).await.expect("a's edit");
        cb.receive(ub).await.expect("b's edit");
        for (client, conn) in [(&a, &mut ca), (&b, &mut cb), (&v, &mut cv)] {
            while client.text().len() < "Shared: A notes app. With tags.".len() {
                let f = next_binary(conn).await;
                client.apply(&f);
            }
        }
        assert_eq!(a.text(), b.text());
        assert_eq!(a.text(), v.text());
        assert_eq!(a.text(), "Shared: A notes app. With tags.");

        // A viewer's write is dropped, and the viewer is told.
        let uv = v.type_at(0, "VANDAL ");
        cv.receive(uv).await.expect("the frame is fine, the write is refused");
        let denied = next_binary(&mut cv).await;
        let mut d = DecoderV1::new(Cursor::new(denied.as_slice()));
        let m = MessageReader::new(&mut d).next().expect("a message").expect("decodes");
        assert!(
            matches!(m, Message::Auth(Some(ref r)) if r.contains("permission denied")),
            "{m:?}"
        );
        assert_eq!(hub.text(env.app).await.expect("text"), "Shared: A notes app. With tags.");

        // A server-side edit reaches the editors (only the changed part).
        hub.replace_text(env.app, "Shared: A notes app. With tags and colours.")
            .await
            .expect("replace");
        while a.text() != "Shared: A notes app. With tags and colours." {
            let f = next_binary(&mut ca).await;
            a.apply(&f);
        }

        // Bad frames close only their own connection and change nothing.
        let refused = cb.receive(vec![0, 2, 5, 1, 2]).await.expect_err("a truncated update");
        assert!(matches!(refused, Outgoing::Close(close::UNSUPPORTED, _)), "{refused:?}");
        let refused = ca.receive(vec![9, 1, 0]).await.expect_err("not y-sync");
        assert!(matches!(refused, Outgoing::Close(close::UNSUPPORTED, _)), "{refused:?}");
        let huge = vec![0u8; Limits::default().max_frame + 1];
        assert!(matches!(cv.receive(huge).await, Err(Outgoing::Close(close::TOO_BIG, _))));
        assert_eq!(
            hub.text(env.app).await.expect("text"),
            "Shared: A notes app. With tags and colours."
        );
        drop((ca, cb, cv));

        // A new process (a restart): the text is all there, from the database.
        let again = Hub::new(env.db.clone(), Clock::default(), Limits::default());
        let c = Client::new();
        let _conn = join(&again, env.app, peer(1, Role::Owner), &c).await;
        assert_eq!(c.text(), "Shared: A notes app. With tags and colours.");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_compacted_and_a_kicked_peer_is_closed() {
    for env in envs().await {
        let limits = Limits { compact_after: 5, ..Limits::default() };
        let hub = Hub::new(env.db.clone(), Clock::default(), limits.clone());
        let a = Client::new();
        let mut ca = join(&hub, env.app, peer(1, Role::Owner), &a).await;
        let mut expected = a.text();
        for n in 0..12 {
            let piece = format!(" {n}");
            let u = a.type_at(expected.encode_utf16().count() as u32, &piece);
            expected.push_str(&piece);
            ca.receive(u).await.expect("edit");
        }
        let stored = kiln_store::collab::load_doc(&env.db, env.app).await.expect("load");
        assert!(stored.updates.len() < 5, "compacted: {} rows left", stored.updates.len());
        let (state, _) = stored.snapshot.expect("a snapshot");
        let doc =
            Doc::with_options(Options { offset_kind: OffsetKind::Utf16, ..Options::default() });
        let t = doc.get_or_insert_text("description");
        doc.transact_mut().apply_update(Update::decode_v1(&state).expect("s")).expect("a");
        for (_, u) in &stored.updates {
            doc.transact_mut().apply_update(Update::decode_v1(u).expect("u")).expect("a");
        }
        assert_eq!(t.get_string(&doc.transact()), expected, "snapshot + the rows after it");

        hub.disconnect_user(env.app, 1, "your role on this app was removed").await;
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(5), ca.next()).await {
                Ok(Some(Outgoing::Binary(_))) => continue,
                Ok(Some(Outgoing::Close(code, why))) => {
                    assert_eq!(code, close::POLICY);
                    assert!(why.contains("removed"), "{why}");
                    break;
                }
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_let_go_without_holding_up_the_others() {
    for env in envs().await {
        let limits = Limits { peer_queue: 8, ..Limits::default() };
        let hub = Hub::new(env.db.clone(), Clock::default(), limits);
        let (a, b, idle) = (Client::new(), Client::new(), Client::new());
        let ca = join(&hub, env.app, peer(1, Role::Owner), &a).await;
        let mut cb = join(&hub, env.app, peer(2, Role::Editor), &b).await;
        // Joined, then never reads again.
        let mut cidle = join(&hub, env.app, peer(3, Role::Viewer), &idle).await;
        let mut expected = a.text();
        for n in 0..40 {
            let piece = format!(" {n}");
            let u = a.type_at(expected.encode_utf16().count() as u32, &piece);
            expected.push_str(&piece);
            ca.receive(u).await.expect("edit");
            // The reader keeps up and gets every edit.
            let f = next_binary(&mut cb).await;
            b.apply(&f);
            assert_eq!(b.text(), expected);
        }
        // The idle peer's queue filled: it was let go (its stream ends after what was queued).
        let mut frames = 0;
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(5), cidle.next()).await {
                Ok(Some(Outgoing::Binary(_))) => frames += 1,
                Ok(None) => break,
                other => panic!("expected the end, got {other:?}"),
            }
        }
        assert!(frames <= 8, "at most its queue: {frames}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_merge_on_reconnecting_and_limits_hold() {
    for env in envs().await {
        let limits =
            Limits { max_connections_per_user: 2, max_doc: 64 * 1024, ..Limits::default() };
        let hub = Hub::new(env.db.clone(), Clock::default(), limits);
        let (a, b) = (Client::new(), Client::new());
        let ca = join(&hub, env.app, peer(1, Role::Owner), &a).await;
        let mut cb = join(&hub, env.app, peer(2, Role::Editor), &b).await;
        // A goes offline and keeps typing; B types meanwhile.
        drop(ca);
        let _offline = a.type_at(0, "Offline: ");
        let ub = b.type_at(b.text().encode_utf16().count() as u32, " Online.");
        cb.receive(ub).await.expect("b");
        // A comes back: the handshake sends each side what the other lacks.
        let ca = join(&hub, env.app, peer(1, Role::Owner), &a).await;
        assert_eq!(a.text(), "Offline: A notes app. Online.");
        while b.text() != a.text() {
            let f = next_binary(&mut cb).await;
            b.apply(&f);
        }
        assert_eq!(hub.text(env.app).await.expect("text"), "Offline: A notes app. Online.");

        // At most two connections per person.
        let _second = hub.connect(env.app, peer(1, Role::Owner)).await.expect("second");
        let third = hub.connect(env.app, peer(1, Role::Owner)).await;
        assert!(matches!(third, Err(kiln_collab::CollabError::TooManyConnections(2))));

        // The document may not grow past its limit: that frame closes, nothing of it applied.
        let big = a.type_at(0, &"x".repeat(70 * 1024));
        let refused = ca.receive(big).await.expect_err("too big");
        assert!(matches!(refused, Outgoing::Close(close::TOO_BIG, _)), "{refused:?}");
        assert_eq!(hub.text(env.app).await.expect("text"), "Offline: A notes app. Online.");

        // With no one connected, the document is unloaded.
        drop((ca, cb, _second));
        let mut open = usize::MAX;
        for _ in 0..50 {
            open = hub.open_rooms().await;
            if open == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(open, 0, "unloaded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_arriving_together_reach_everyone() {
    for env in envs().await {
        let hub = Hub::new(env.db.clone(), Clock::default(), Limits::default());
        let clients = [Client::new(), Client::new(), Client::new(), Client::new()];
        let mut conns = Vec::new();
        for (n, c) in clients.iter().enumerate() {
            let role = if n == 0 { Role::Owner } else { Role::Editor };
            conns.push(join(&hub, env.app, peer(n as i64 + 1, role), c).await);
        }
        // A lone edit goes to the others, not back to its sender.
        let lone = clients[0].type_at(0, "[lone]");
        conns[0].receive(lone).await.expect("edit");
        for (c, conn) in clients.iter().zip(conns.iter_mut()).skip(1) {
            let f = next_binary(conn).await;
            c.apply(&f);
            assert!(c.text().starts_with("[lone]"), "{}", c.text());
        }
        // (Queued for everyone in the same step, so it would be there by now.)
        assert_eq!(conns[0].try_next(), None, "a lone edit is not sent back to its sender");
        // The first three each send 20 edits at once (not waiting for one before the next),
        // all three at the same time; the fourth only listens.
        let mut frames: Vec<Vec<Vec<u8>>> = Vec::new();
        for (n, c) in clients.iter().take(3).enumerate() {
            frames.push((0..20).map(|k| c.type_at(0, &format!("[{n}.{k}]"))).collect());
        }
        let sends = conns.iter().take(3).zip(frames).map(|(conn, fs)| async move {
            let all = fs.into_iter().map(|f| conn.receive(f));
            for r in futures_util::future::join_all(all).await {
                r.expect("edit");
            }
        });
        futures_util::future::join_all(sends).await;
        let want = hub.text(env.app).await.expect("text");
        for n in 0..3 {
            for k in 0..20 {
                assert!(want.contains(&format!("[{n}.{k}]")), "{want}");
            }
        }
        // Everyone ends with the same text, whether the edits came one by one or merged.
        let mut received = Vec::new();
        for (c, conn) in clients.iter().zip(conns.iter_mut()) {
            let mut count = 0;
            while c.text() != want {
                let f = next_binary(conn).await;
                c.apply(&f);
                count += 1;
            }
            received.push(count);
        }
        // The listener had at most one message per edit (fewer when edits were merged).
        assert!(received[3] <= 60, "{received:?}");
        eprintln!("messages received by each peer for 60 edits: {received:?}");
    }
}
