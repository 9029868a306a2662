//! Clients that speak to the target: timed HTTP, HLS, chat, RTMP.
//!
//! - [`http`]: one timed HTTP/1.1 keep-alive connection per viewer (dns/connect/tls/ttfb).
//! - [`playlist`]: HLS playlist parsing (RFC 8216 + LL-HLS), pure and I/O-free.
//! - [`hls`]: the player model (buffer, stalls, rendition choice, stale detection), pure.
//! - [`ws`]: chat WebSocket connect (timed upgrade) and the chat message format.
//! - [`rtmp`]: an RTMP publisher (handshake, connect, createStream, publish, FLV tags).

pub mod hls;
pub mod http;
pub mod netem;
pub mod playlist;
pub mod rtmp;
mod tls;
pub mod ws;
