//! Response-body collection for [`super::HttpConnection`]: zero-copy when the body arrives in
//! one frame, with pre-allocation bounded against lying `Content-Length` headers.

use bytes::{Bytes, BytesMut};

/// Largest buffer pre-allocated from a response's `Content-Length`: the header is
/// server-controlled, so a lying server must not make us allocate gigabytes up front.
const MAX_BODY_PREALLOC: usize = 8 << 20;

pub(super) fn body_hint(body: &hyper::body::Incoming) -> usize {
    use hyper::body::Body as _;
    let hint = body.size_hint();
    let n = hint.exact().unwrap_or(hint.lower());
    usize::try_from(n)
        .unwrap_or(usize::MAX)
        .min(MAX_BODY_PREALLOC)
}

/// Collects body chunks without copying when the body arrives in one frame (the common case
/// for playlists and small segments).
pub(super) enum KeptBody {
    Empty(usize),
    One(Bytes, usize),
    Many(BytesMut),
}

impl KeptBody {
    pub(super) fn with_hint(hint: usize) -> KeptBody {
        KeptBody::Empty(hint)
    }

    pub(super) fn push(&mut self, data: Bytes) {
        *self = match std::mem::replace(self, KeptBody::Empty(0)) {
            KeptBody::Empty(hint) => KeptBody::One(data, hint),
            KeptBody::One(first, hint) => {
                let mut buf = BytesMut::with_capacity(hint.max(first.len() + data.len()));
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                KeptBody::Many(buf)
            }
            KeptBody::Many(mut buf) => {
                buf.extend_from_slice(&data);
                KeptBody::Many(buf)
            }
        };
    }

    pub(super) fn finish(self) -> Bytes {
        match self {
            KeptBody::Empty(_) => Bytes::new(),
            KeptBody::One(b, _) => b,
            KeptBody::Many(buf) => buf.freeze(),
        }
    }
}
