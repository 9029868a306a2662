//! Live chat: `GET /chat?room=ID` upgrades to a WebSocket; every text message a client sends
//! is fanned out to every client in the same room, **including the sender** (so a client
//! can time its own message's round trip as `chat_delivery_ms`).
//!
//! Each room is a `tokio::sync::broadcast` channel. The room map is behind a plain `Mutex`
//! touched only on join and leave, never per message. A receiver that falls behind skips
//! what it missed and carries on, as a real chat service drops messages for slow clients.
//! On server shutdown every session sends a `1001 Going Away` close frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use super::api::MAX_ROOM_ID_LEN;
use super::capacity::{Admission, Class};
use super::Shared;

/// Messages a room buffers for its slowest reader before that reader starts skipping.
const ROOM_BUFFER: usize = 1024;

#[derive(Debug)]
struct Room {
    tx: broadcast::Sender<Utf8Bytes>,
}

/// All rooms with at least one member.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    map: Mutex<HashMap<String, Arc<Room>>>,
}

impl Rooms {
    fn join(self: &Arc<Self>, id: String) -> Membership {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let room = map
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(Room {
                    tx: broadcast::channel(ROOM_BUFFER).0,
                })
            })
            .clone();
        Membership {
            rooms: Arc::clone(self),
            id,
            room,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A session's place in a room; leaving (drop) removes the room once it is empty, so
/// arbitrary client-chosen room ids don't accumulate.
struct Membership {
    rooms: Arc<Rooms>,
    id: String,
    room: Arc<Room>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut map = self
            .rooms
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Every other strong reference is taken under this lock, so the count is exact:
        // two means only the map and this membership hold the room.
        if Arc::strong_count(&self.room) == 2 {
            map.remove(&self.id);
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChatQuery {
    room: String,
}

/// `GET /chat?room=ID`
pub(crate) async fn chat(
    State(shared): State<Shared>,
    Query(query): Query<ChatQuery>,
    admission: Option<Extension<Admission>>,
    ws: WebSocketUpgrade,
) -> Response {
    if query.room.is_empty() || query.room.len() > MAX_ROOM_ID_LEN {
        return (StatusCode::BAD_REQUEST, "room must be 1..=128 bytes\n").into_response();
    }
    if let Err(rejected) = shared.gate.admit(Class::Api, admission.map(|e| e.0)).await {
        return rejected.into_response();
    }
    let membership = shared.rooms.join(query.room);
    // Subscribed before the 101 goes out, so a client that sends right after its
    // handshake completes is guaranteed to see its own message (and its peers').
    let rx = membership.room.tx.subscribe();
    let shutdown = shared.shutdown.clone();
    ws.on_upgrade(move |socket| session(socket, membership, rx, shutdown))
}

async fn session(
    mut socket: WebSocket,
    membership: Membership,
    mut rx: broadcast::Receiver<Utf8Bytes>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = super::stopping(&mut shutdown) => {
                let frame = CloseFrame {
                    code: close_code::AWAY,
                    reason: Utf8Bytes::from_static("server shutting down"),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    // Err only when no receiver exists, impossible while we hold `rx`.
                    let _ = membership.room.tx.send(text);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                // Pings are answered by the WebSocket layer; binary frames are not chat.
                Some(Ok(_)) => {}
            },
            fanned = rx.recv() => match fanned {
                Ok(text) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_removed_when_the_last_member_leaves() {
        let rooms = Arc::new(Rooms::default());
        let a = rooms.join("r1".into());
        let b = rooms.join("r1".into());
        let c = rooms.join("r2".into());
        assert_eq!(rooms.len(), 2);
        drop(a);
        assert_eq!(rooms.len(), 2);
        drop(b);
        assert_eq!(rooms.len(), 1);
        drop(c);
        assert_eq!(rooms.len(), 0);
    }
}
