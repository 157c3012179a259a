//! Fan-out load generator for any y-sync WebSocket server (Kiln's `/collab/<app>`, npm
//! y-websocket's server): N peers on one document, each inserting a short marked string into
//! its own yrs document every INTERVAL ms and sending the real update; every edit must reach the
//! N-1 others. Peers do not apply what they receive: they find the markers (`§peer:seq:µs§`) in
//! each update (one, or several when the server merged edits that arrived together) and take
//! the latency from the time each carries; a peer's own edits sent back to it do not count.
//! Reports JSON: edits/s, deliveries/s, p50/p99 edit-to-delivery latency (after a 2 s warm-up).
//!
//!   cargo run --release -p kiln-collab --example fanout -- <ws url> <peers> <seconds> <interval ms>
//!
//! (Rust and tokio rather than Node, so the load generator is not the bottleneck.)

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{Doc, OffsetKind, Options, ReadTxn, StateVector, Text, Transact};

struct Shared {
    start: Instant,
    measuring: AtomicBool,
    stop: AtomicBool,
    delivered: AtomicU64,
    sent: AtomicU64,
    closed: AtomicU64,
}

/// The edits an update message carries: each marker's "peer:seq:µs" as (peer, µs). A server
/// may merge several edits into one message; each counts.
fn markers(bytes: &[u8]) -> Vec<(usize, u64)> {
    const MARK: [u8; 2] = [0xC2, 0xA7];
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|w| w == MARK) {
        let body = &rest[at + 2..];
        let Some(end) = body.windows(2).position(|w| w == MARK) else { break };
        let mut parts = std::str::from_utf8(&body[..end]).unwrap_or("").split(':');
        if let (Some(Ok(peer)), Some(_), Some(Ok(us))) =
            (parts.next().map(str::parse), parts.next(), parts.next().map(str::parse))
        {
            out.push((peer, us));
        }
        rest = &body[end + 2..];
    }
    out
}

async fn peer(
    i: usize,
    url: String,
    interval: Duration,
    shared: Arc<Shared>,
    ready: tokio::sync::mpsc::Sender<bool>,
    mut go: tokio::sync::watch::Receiver<bool>,
    latencies: Arc<Mutex<Vec<u32>>>,
) {
    let doc = Doc::with_options(Options {
        client_id: yrs::block::ClientID::new(i as u64 + 1000),
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    });
    let text = doc.get_or_insert_text("description");
    // Connected and synced, or not: either way the peer reports back.
    let joined = async {
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (ws, _) = match tokio::time::timeout(Duration::from_secs(30), connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                eprintln!("peer {i}: {e}");
                return None;
            }
            Err(_) => {
                eprintln!("peer {i}: no connection in 30 s");
                return None;
            }
        };
        let (mut tx, mut rx) = ws.split();
        let sv = doc.transact().state_vector();
        let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
        tx.send(Ws::Binary(step1.into())).await.ok()?;
        // Wait for the server's step 2 (and answer its step 1 with our empty state).
        loop {
            match rx.next().await {
                Some(Ok(Ws::Binary(b))) => match (b.first(), b.get(1)) {
                    (Some(0), Some(0)) => {
                        let empty =
                            doc.transact().encode_state_as_update_v1(&StateVector::default());
                        let m = Message::Sync(SyncMessage::SyncStep2(empty)).encode_v1();
                        let _ = tx.send(Ws::Binary(m.into())).await;
                    }
                    (Some(0), Some(1)) => return Some((tx, rx)),
                    _ => {}
                },
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    }
    .await;
    let _ = ready.send(joined.is_some()).await;
    let Some((mut tx, mut rx)) = joined else { return };
    // Everyone starts editing together, once every peer is in.
    if go.wait_for(|g| *g).await.is_err() {
        return;
    }
    // Edits at a random phase, then every `interval`.
    let phase = Duration::from_micros((i as u64 * 7919) % interval.as_micros().max(1) as u64);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                seq += 1;
                let us = shared.start.elapsed().as_micros() as u64;
                let update = {
                    let mut txn = doc.transact_mut();
                    text.insert(&mut txn, 0, &format!("§{i}:{seq}:{us}§"));
                    txn.encode_update_v1()
                };
                if shared.measuring.load(Ordering::Relaxed) {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                }
                let m = Message::Sync(SyncMessage::Update(update)).encode_v1();
                if tx.send(Ws::Binary(m.into())).await.is_err() {
                    break;
                }
            }
            msg = rx.next() => match msg {
                Some(Ok(Ws::Binary(b))) => {
                    if b.len() > 2 && b[0] == 0 && b[1] == 2 && shared.measuring.load(Ordering::Relaxed) {
                        let now = shared.start.elapsed().as_micros() as u64;
                        // Edits of others only: a server that echoes the sender's own edit
                        // back (the reference does) gets no credit for it.
                        let mut n = 0;
                        let mut kept = latencies.lock().expect("latencies");
                        for (from, at) in markers(&b) {
                            if from != i {
                                n += 1;
                                kept.push(now.saturating_sub(at) as u32);
                            }
                        }
                        drop(kept);
                        if n > 0 {
                            shared.delivered.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url =
        args.first().cloned().expect("usage: fanout <ws url> <peers> <seconds> <interval ms>");
    let peers: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let interval = Duration::from_millis(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100));
    let shared = Arc::new(Shared {
        start: Instant::now(),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(peers);
    let (go_tx, go) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    // Each peer's latencies, kept outside its task: a peer still blocked sending to a server
    // that fell behind keeps what it measured.
    let mut kept = Vec::new();
    for i in 0..peers {
        let latencies = Arc::new(Mutex::new(Vec::new()));
        kept.push(latencies.clone());
        tasks.push(tokio::spawn(peer(
            i,
            url.clone(),
            interval,
            shared.clone(),
            ready_tx.clone(),
            go.clone(),
            latencies,
        )));
    }
    drop(ready_tx);
    // Every peer says whether it got in (connected and synced) or not.
    let (mut n, mut answered) = (0, 0);
    while answered < peers {
        match ready.recv().await {
            Some(ok) => {
                answered += 1;
                n += usize::from(ok);
            }
            None => break,
        }
    }
    let _ = go_tx.send(true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    // A few seconds in all for the peers to stop; then whatever they are still waiting for
    // is abandoned.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        for t in &mut tasks {
            let _ = t.await;
        }
    })
    .await;
    for t in &tasks {
        t.abort();
    }
    let mut all: Vec<u32> = Vec::new();
    for l in &kept {
        all.extend(l.lock().expect("latencies").iter().copied());
    }
    all.sort_unstable();
    let pct = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map(|us| *us as f64 / 1000.0)
    };
    let sent = shared.sent.load(Ordering::Relaxed) as f64;
    println!(
        "{}",
        serde_json::json!({
            "peers": n,
            "interval_ms": interval.as_millis() as u64,
            "seconds": (elapsed * 10.0).round() / 10.0,
            "edits_per_s": (sent / elapsed).round(),
            "delivered_per_s": (shared.delivered.load(Ordering::Relaxed) as f64 / elapsed).round(),
            "expected_per_s": (sent * (n.saturating_sub(1)) as f64 / elapsed).round(),
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "closed": shared.closed.load(Ordering::Relaxed),
        })
    );
    std::process::exit(0);
}
