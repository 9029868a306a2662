//! The byte stream under a connection: the bare socket unboxed, anything else (TLS, an
//! emulated network path) boxed behind one trait object.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Anything a connection can run on: TLS, an emulated path.
pub trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Stream for T {}

/// The connection's byte stream. The bare socket is the common case and stays unboxed.
pub enum Io {
    Plain(TcpStream),
    Wrapped(Box<dyn Stream>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Wrapped(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Wrapped(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Wrapped(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Wrapped(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl Io {
    /// Whether the peer closed (or wrote unsolicited bytes on) an idle connection, checked
    /// without waiting: a keep-alive connection the server has dropped is found before a
    /// request is written to it, so that request can go to a fresh connection whatever its
    /// method. For a bare socket this reads tokio's cached readiness and costs no syscall
    /// unless the socket became readable.
    pub(super) fn peer_hung_up(&mut self) -> bool {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        // Ready means EOF, an error, or a byte nobody asked for: none leaves a usable
        // connection.
        Pin::new(self).poll_read(&mut cx, &mut buf).is_ready()
    }
}
