//! The app page's description editor, shared live. In the browser it holds its own yrs document
//! (the server's is the same Yjs-compatible `Y.Text` named `description`) and speaks the y-sync
//! protocol over a WebSocket to `/collab/{app_id}`: local edits become updates, remote updates
//! patch the text while keeping the caret where it was, and presence (who is here, in which
//! colour, on which line) comes from awareness. Offline, edits stay in the document and merge
//! when the connection is back (the sync handshake exchanges what each side lacks).
//!
//! Without JavaScript (or before hydration) it is a plain textarea with the saved description.

use leptos::prelude::*;

/// Someone else in the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Presence {
    pub name: String,
    pub color: String,
    pub line: Option<usize>,
}

/// The palette presence colours come from (by client id).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const COLOURS: [&str; 8] =
    ["#c2410c", "#1d4ed8", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d"];

#[component]
pub fn DescriptionEditor(
    app_id: i64,
    /// The text as last seen (the buttons read it).
    text: RwSignal<String>,
    /// True while connected and in sync with the shared document.
    live: RwSignal<bool>,
    can_edit: bool,
    /// How this person is shown to the others.
    you: String,
    /// Bumped when the server closes the connection because this person's access changed or
    /// was removed: the page then reloads the app (and this editor with the new role).
    access_changed: RwSignal<u32>,
    /// Why the server closed the connection then (the page shows it if the app is gone).
    closed_because: RwSignal<Option<String>>,
    /// The others here now (from presence), also for the rest of the page.
    peers: RwSignal<Vec<Presence>>,
) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let area = NodeRef::<leptos::html::Textarea>::new();
    #[cfg(feature = "hydrate")]
    {
        let started = StoredValue::new(false);
        // This editor's connection, closed when the editor goes (the page re-renders).
        let client = StoredValue::new_local(None::<live_client::Client>);
        on_cleanup(move || {
            client.update_value(|c| {
                if let Some(c) = c.take() {
                    c.stop();
                }
            })
        });
        let you = you.clone();
        Effect::new(move |_| {
            if let Some(el) = area.get()
                && !started.get_value()
            {
                started.set_value(true);
                let c = live_client::start(live_client::Setup {
                    app_id,
                    area: el,
                    text,
                    peers,
                    status,
                    live,
                    can_edit,
                    you: you.clone(),
                    access_changed,
                    closed_because,
                });
                client.set_value(Some(c));
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (app_id, &you, live, access_changed, closed_because);
    view! {
        <textarea node_ref=area id="description" class="description-editor" rows="5"
            readonly=!can_edit
            prop:value=text.get_untracked()
            on:input=move |ev| text.set(event_target_value(&ev))></textarea>
        <div class="presence">
            <span class="muted" role="status" data-live=move || live.get().to_string()>{move || status.get()}</span>
            <ul class="people" aria-label="Who else is here">
                {move || peers.get().into_iter().map(|p| view! {
                    <li>
                        <span class="swatch" style=format!("background:{}", p.color)></span>
                        {p.name.clone()}
                        {p.line.map(|l| format!(" (line {l})"))}
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod live_client {
    use super::{COLOURS, Presence};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use web_sys::{BinaryType, CloseEvent, HtmlTextAreaElement, MessageEvent, WebSocket};
    use yrs::block::ClientID;
    use yrs::encoding::read::Cursor;
    use yrs::sync::awareness::AwarenessUpdateEntry;
    use yrs::sync::{AwarenessUpdate, Message, MessageReader, SyncMessage};
    use yrs::updates::decoder::{Decode, DecoderV1};
    use yrs::updates::encoder::Encode;
    use yrs::{Doc, GetString, OffsetKind, Options, ReadTxn, Text, TextRef, Transact, Update};

    pub struct Setup {
        pub app_id: i64,
        pub area: HtmlTextAreaElement,
        pub text: RwSignal<String>,
        pub peers: RwSignal<Vec<Presence>>,
        pub status: RwSignal<String>,
        pub live: RwSignal<bool>,
        pub can_edit: bool,
        pub you: String,
        pub access_changed: RwSignal<u32>,
        pub closed_because: RwSignal<Option<String>>,
    }

    struct State {
        setup: Setup,
        doc: Doc,
        ytext: TextRef,
        ws: Option<WebSocket>,
        me: ClientID,
        clock: u32,
        /// Others' presence: client id → JSON state.
        others: HashMap<ClientID, String>,
        retry_ms: i32,
        stopped: bool,
    }

    type Shared = Rc<RefCell<State>>;

    /// A running editor connection.
    pub struct Client(Shared);

    impl Client {
        /// Closes the connection for good (no reconnecting).
        pub fn stop(self) {
            let ws = {
                let mut st = self.0.borrow_mut();
                st.stopped = true;
                st.ws.take()
            };
            if let Some(ws) = ws {
                let _ = ws.close();
            }
        }
    }

    pub fn start(setup: Setup) -> Client {
        // A random client id (Yjs's are 53-bit): never derived from a seed two tabs could share.
        let me = ClientID::new((js_sys::Math::random() * 4.0e15) as u64 + 1);
        let doc = Doc::with_options(Options {
            client_id: me,
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let ytext = doc.get_or_insert_text("description");
        let area = setup.area.clone();
        let state = Rc::new(RefCell::new(State {
            setup,
            doc,
            ytext,
            ws: None,
            me,
            clock: 0,
            others: HashMap::new(),
            retry_ms: 500,
            stopped: false,
        }));
        // Local edits: the difference from the document's text becomes an update.
        let s = state.clone();
        let on_input = Closure::<dyn FnMut()>::new(move || local_edit(&s));
        let _ = area.add_event_listener_with_callback("input", on_input.as_ref().unchecked_ref());
        on_input.forget();
        // The caret moves: tell the others (presence).
        for ev in ["keyup", "click", "select", "focus"] {
            let s = state.clone();
            let f = Closure::<dyn FnMut()>::new(move || send_presence(&s));
            let _ = area.add_event_listener_with_callback(ev, f.as_ref().unchecked_ref());
            f.forget();
        }
        // Presence is renewed every 15 s (others drop a client silent for 30 s).
        let s = state.clone();
        let renew = Closure::<dyn FnMut()>::new(move || {
            if !s.borrow().stopped {
                send_presence(&s)
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(
                renew.as_ref().unchecked_ref(),
                15_000,
            );
        }
        renew.forget();
        // Read-only until the document is in sync: an edit before then could not be placed.
        area.set_read_only(true);
        connect(&state);
        Client(state)
    }

    fn frame(m: &Message) -> Vec<u8> {
        m.encode_v1()
    }

    fn send(state: &Shared, bytes: &[u8]) {
        let st = state.borrow();
        if let Some(ws) = &st.ws
            && ws.ready_state() == WebSocket::OPEN
        {
            let _ = ws.send_with_u8_array(bytes);
        }
    }

    fn connect(state: &Shared) {
        let Some(window) = web_sys::window() else { return };
        let loc = window.location();
        let scheme = if loc.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
        let host = loc.host().unwrap_or_default();
        let app_id = state.borrow().setup.app_id;
        let Ok(ws) = WebSocket::new(&format!("{scheme}://{host}/collab/{app_id}")) else {
            return;
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        {
            let mut st = state.borrow_mut();
            st.setup.status.set("Connecting to the shared description…".into());
            st.ws = Some(ws.clone());
        }
        let s = state.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let sv = s.borrow().doc.transact().state_vector();
            send(&s, &frame(&Message::Sync(SyncMessage::SyncStep1(sv))));
            send_presence(&s);
            s.borrow_mut().retry_ms = 500;
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();
        let s = state.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                receive(&s, &js_sys::Uint8Array::new(&buf).to_vec());
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let s = state.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            if s.borrow().stopped {
                return;
            }
            let (live, status, peers, retry) = {
                // Still editable: offline edits stay in the document and go out on reconnecting.
                let mut st = s.borrow_mut();
                st.ws = None;
                st.others.clear();
                let r = st.retry_ms;
                st.retry_ms = (r * 2).min(10_000);
                (st.setup.live, st.setup.status, st.setup.peers, r)
            };
            live.set(false);
            peers.set(Vec::new());
            if e.code() == 1008 {
                // Access removed or changed: say why, and let the page load the app again (with
                // the new role, or "not found" once removed) instead of reconnecting here.
                let why = format!("Disconnected: {}.", e.reason());
                status.set(why.clone());
                let (changed, because) = {
                    let mut st = s.borrow_mut();
                    st.stopped = true;
                    st.setup.area.set_read_only(true);
                    (st.setup.access_changed, st.setup.closed_because)
                };
                because.set(Some(why));
                changed.set(changed.get_untracked() + 1);
                return;
            } else {
                status.set(
                    "Offline: reconnecting… Your edits are kept and merge when the connection is back."
                        .into(),
                );
            }
            if s.borrow().stopped {
                return;
            }
            let again = s.clone();
            let f = Closure::once_into_js(move || connect(&again));
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    f.unchecked_ref(),
                    retry,
                );
            }
        });
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
    }

    fn receive(state: &Shared, bytes: &[u8]) {
        let mut d = DecoderV1::new(Cursor::new(bytes));
        let messages: Vec<Message> = MessageReader::new(&mut d).filter_map(Result::ok).collect();
        for m in messages {
            match m {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let u = state.borrow().doc.transact().encode_state_as_update_v1(&sv);
                    send(state, &frame(&Message::Sync(SyncMessage::SyncStep2(u))));
                }
                Message::Sync(SyncMessage::SyncStep2(u)) => {
                    remote_update(state, &u);
                    let (live, status, can_edit) = {
                        let st = state.borrow();
                        st.setup.area.set_read_only(!st.setup.can_edit);
                        (st.setup.live, st.setup.status, st.setup.can_edit)
                    };
                    live.set(true);
                    status.set(if can_edit {
                        "Live: everyone here sees changes as they are typed; they are saved at once."
                            .into()
                    } else {
                        "Live (view only): you see changes as they are typed.".into()
                    });
                }
                Message::Sync(SyncMessage::Update(u)) => remote_update(state, &u),
                Message::Awareness(update) => presence_update(state, update),
                Message::Auth(Some(reason)) => {
                    state.borrow().setup.status.set(format!("Not saved: {reason}."));
                }
                _ => {}
            }
        }
    }

    /// Applies a remote update and shows it, keeping this person's selection where it was
    /// relative to the text around it.
    fn remote_update(state: &Shared, update: &[u8]) {
        let Ok(u) = Update::decode_v1(update) else { return };
        let st = state.borrow();
        let old = st.ytext.get_string(&st.doc.transact());
        if st.doc.transact_mut().apply_update(u).is_err() {
            return;
        }
        let new = st.ytext.get_string(&st.doc.transact());
        if old == new {
            return;
        }
        let area = &st.setup.area;
        let (a, b) = (
            area.selection_start().ok().flatten().unwrap_or(0) as usize,
            area.selection_end().ok().flatten().unwrap_or(0) as usize,
        );
        let o: Vec<u16> = old.encode_utf16().collect();
        let n: Vec<u16> = new.encode_utf16().collect();
        let stretch = kiln_core::text::changed_stretch(&o, &n);
        let focused = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element())
            .is_some_and(|e| area.is_same_node(Some(&e)));
        area.set_value(&new);
        if focused {
            let _ = area.set_selection_range(stretch.map(a) as u32, stretch.map(b) as u32);
        }
        let text = st.setup.text;
        drop(st);
        text.set(new);
        render_peers(state);
    }

    /// The textarea changed: the stretch that differs from the document becomes an update.
    fn local_edit(state: &Shared) {
        let update = {
            let st = state.borrow();
            if !st.setup.can_edit {
                return;
            }
            let old = st.ytext.get_string(&st.doc.transact());
            let new = st.setup.area.value();
            if old == new {
                return;
            }
            let o: Vec<u16> = old.encode_utf16().collect();
            let n: Vec<u16> = new.encode_utf16().collect();
            let s = kiln_core::text::changed_stretch(&o, &n);
            let inserted = String::from_utf16_lossy(&n[s.start..s.new_end]);
            let mut txn = st.doc.transact_mut();
            if s.old_end > s.start {
                st.ytext.remove_range(&mut txn, s.start as u32, (s.old_end - s.start) as u32);
            }
            if !inserted.is_empty() {
                st.ytext.insert(&mut txn, s.start as u32, &inserted);
            }
            txn.encode_update_v1()
        };
        // Offline, the edit stays in the document; the handshake on reconnecting sends it.
        send(state, &frame(&Message::Sync(SyncMessage::Update(update))));
        send_presence(state);
    }

    fn colour(id: ClientID) -> &'static str {
        COLOURS[(id.get() % COLOURS.len() as u64) as usize]
    }

    fn send_presence(state: &Shared) {
        let bytes = {
            let mut st = state.borrow_mut();
            st.clock += 1;
            let area = &st.setup.area;
            let anchor = area.selection_start().ok().flatten().unwrap_or(0);
            let head = area.selection_end().ok().flatten().unwrap_or(0);
            let json = serde_json::json!({
                "user": { "name": st.setup.you, "color": colour(st.me) },
                "cursor": { "anchor": anchor, "head": head },
            })
            .to_string();
            let entry = AwarenessUpdateEntry { clock: st.clock, json: json.into() };
            let update = AwarenessUpdate { clients: HashMap::from([(st.me, entry)]) };
            frame(&Message::Awareness(update))
        };
        send(state, &bytes);
    }

    fn presence_update(state: &Shared, update: AwarenessUpdate) {
        {
            let mut st = state.borrow_mut();
            let me = st.me;
            for (id, entry) in update.clients {
                if id == me {
                    continue;
                }
                if &*entry.json == "null" {
                    st.others.remove(&id);
                } else {
                    st.others.insert(id, entry.json.to_string());
                }
            }
        }
        render_peers(state);
    }

    fn render_peers(state: &Shared) {
        let st = state.borrow();
        let text: Vec<u16> = st.ytext.get_string(&st.doc.transact()).encode_utf16().collect();
        let mut list: Vec<(u64, Presence)> = st
            .others
            .iter()
            .filter_map(|(id, json)| {
                let v: serde_json::Value = serde_json::from_str(json).ok()?;
                let name = v["user"]["name"].as_str().unwrap_or("Someone").to_owned();
                let color = v["user"]["color"].as_str().unwrap_or(colour(*id)).to_owned();
                let line = v["cursor"]["head"].as_u64().map(|h| {
                    1 + text.iter().take(h as usize).filter(|c| **c == u16::from(b'\n')).count()
                });
                Some((id.get(), Presence { name, color, line }))
            })
            .collect();
        list.sort_by_key(|(id, _)| *id);
        st.setup.peers.set(list.into_iter().map(|(_, p)| p).collect());
    }
}
