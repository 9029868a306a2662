//! An RTMP publisher client: handshake (C0/C1/C2), `connect`, `createStream`, `publish`,
//! then FLV audio/video messages. Knows nothing of pacing or metrics (`engine::publisher`).
//!
//! Media is synthetic but structurally valid, so an ingest that repackages it (nginx-rtmp's
//! HLS module, a transcoder's demuxer) accepts it: a real H.264 baseline SPS/PPS for 320×240
//! (produced once by x264) in the AVC sequence header, AAC-LC 44.1 kHz stereo
//! AudioSpecificConfig, then IDR/non-IDR NAL units and AAC frames whose payload is filler
//! sized to the requested bitrate. Nothing is decodable, nothing is fetched, and the bitrate
//! on the wire is exact.
//!
//! Only the simple (non-digest) handshake is done: servers accept it from publishers.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::metrics::ErrorKind;
use amf::{amf_decode, amf_key, amf_num, amf_object, amf_str, Amf};

mod amf;

const HANDSHAKE_LEN: usize = 1536;
/// Our outgoing chunk size (announced with Set Chunk Size); large chunks cost less framing.
const OUT_CHUNK: usize = 4096;
/// A server message larger than this is refused: no RTMP control/command message is this big.
const MAX_MESSAGE: usize = 1 << 20;
/// H.264 baseline, level 1.3, 320×240, as written by x264.
const SPS: [u8; 22] = [
    0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00,
    0x00, 0x0c, 0x83, 0xc5, 0x0a, 0xa8,
];
const PPS: [u8; 4] = [0x68, 0xce, 0x0f, 0xc8];
/// AAC-LC, 44.1 kHz, 2 channels.
const AUDIO_SPECIFIC_CONFIG: [u8; 2] = [0x12, 0x10];
/// FLV audio tag byte 0: AAC, 44 kHz, 16-bit, stereo.
const AAC_FLAGS: u8 = 0xAF;
/// Filler for NAL and AAC payloads: never forms a start code (00 00 01).
const FILL: u8 = 0xAB;

pub const MSG_SET_CHUNK_SIZE: u8 = 1;
pub const MSG_AUDIO: u8 = 8;
pub const MSG_VIDEO: u8 = 9;
const MSG_DATA_AMF0: u8 = 18;
const MSG_COMMAND_AMF0: u8 = 20;

#[derive(Debug)]
pub struct RtmpError {
    pub kind: ErrorKind,
    pub detail: String,
}

fn fail(kind: ErrorKind, detail: impl Into<String>) -> RtmpError {
    RtmpError {
        kind,
        detail: detail.into(),
    }
}

fn io_err(e: std::io::Error, during: &str) -> RtmpError {
    use std::io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionRefused => ErrorKind::Refused,
        // The server hanging up during setup is how nginx-rtmp refuses a publish.
        K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe => ErrorKind::PublishRejected,
        _ => ErrorKind::Other,
    };
    fail(kind, format!("{during}: {e}"))
}

/// Where to publish: `rtmp://host[:port]/app[/key]`.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub app: String,
    pub key: String,
    pub tc_url: String,
}

impl Target {
    /// The key is the URL's path after the app, or `default_key` when there is none.
    pub fn parse(url: &url::Url, default_key: &str) -> Result<Target, String> {
        if url.scheme() != "rtmp" {
            return Err(format!(
                "publishers.url scheme {:?}: only rtmp is supported",
                url.scheme()
            ));
        }
        let host = url
            .host_str()
            .ok_or("publishers.url has no host")?
            .to_owned();
        let mut segments = url.path().trim_matches('/').splitn(2, '/');
        let app = segments
            .next()
            .filter(|a| !a.is_empty())
            .ok_or("publishers.url has no application (rtmp://host/app)")?
            .to_owned();
        let key = segments
            .next()
            .filter(|k| !k.is_empty())
            .unwrap_or(default_key)
            .to_owned();
        let port = url.port().unwrap_or(1935);
        let tc_url = format!("rtmp://{host}:{port}/{app}");
        Ok(Target {
            host,
            port,
            app,
            key,
            tc_url,
        })
    }
}

/// A connected publish session, ready for media.
pub struct Publisher {
    pub reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    stream_id: u32,
    /// Bytes written since the session opened (handshake included).
    pub bytes_sent: u64,
}

/// Handshake, connect, createStream and publish; returns once the server said
/// `NetStream.Publish.Start`. Every step is bounded by `limit`.
pub async fn publish(target: &Target, limit: Duration) -> Result<Publisher, RtmpError> {
    let tcp = timeout(
        limit,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| fail(ErrorKind::Timeout, "RTMP TCP connect"))?
    .map_err(|e| io_err(e, "RTMP TCP connect"))?;
    let _ = tcp.set_nodelay(true);
    let (reader, writer) = tcp.into_split();
    let mut p = Publisher {
        reader,
        writer,
        stream_id: 0,
        bytes_sent: 0,
    };
    let mut rx = ChunkReader::default();
    timeout(limit, p.setup(target, &mut rx))
        .await
        .map_err(|_| fail(ErrorKind::Timeout, "RTMP publish setup"))??;
    Ok(p)
}

impl Publisher {
    async fn setup(&mut self, target: &Target, rx: &mut ChunkReader) -> Result<(), RtmpError> {
        // C0 + C1: version 3, time 0, zero, then filler (the simple handshake echoes it).
        let mut c0c1 = vec![FILL; 1 + HANDSHAKE_LEN];
        c0c1[0] = 3;
        c0c1[1..9].fill(0);
        self.write_raw(&c0c1).await?;
        let mut s0s1 = vec![0u8; 1 + HANDSHAKE_LEN];
        self.reader
            .read_exact(&mut s0s1)
            .await
            .map_err(|e| io_err(e, "RTMP handshake S0/S1"))?;
        if s0s1[0] != 3 {
            return Err(fail(
                ErrorKind::PublishRejected,
                format!("RTMP handshake: server version {}", s0s1[0]),
            ));
        }
        self.write_raw(&s0s1[1..]).await?; // C2 = S1
        let mut s2 = vec![0u8; HANDSHAKE_LEN];
        self.reader
            .read_exact(&mut s2)
            .await
            .map_err(|e| io_err(e, "RTMP handshake S2"))?;

        self.send(
            2,
            MSG_SET_CHUNK_SIZE,
            0,
            0,
            &(OUT_CHUNK as u32).to_be_bytes(),
        )
        .await?;
        let mut cmd = Vec::new();
        amf_str(&mut cmd, "connect");
        amf_num(&mut cmd, 1.0);
        amf_object(
            &mut cmd,
            &[
                ("app", &target.app),
                ("type", "nonprivate"),
                ("flashVer", "FMLE/3.0 (compatible; peakready)"),
                ("tcUrl", &target.tc_url),
            ],
        );
        self.send(3, MSG_COMMAND_AMF0, 0, 0, &cmd).await?;
        self.expect_result(rx, 1.0, "connect").await?;

        let mut cmd = Vec::new();
        amf_str(&mut cmd, "createStream");
        amf_num(&mut cmd, 2.0);
        cmd.push(0x05);
        self.send(3, MSG_COMMAND_AMF0, 0, 0, &cmd).await?;
        let result = self.expect_result(rx, 2.0, "createStream").await?;
        self.stream_id = result.iter().rev().find_map(Amf::number).unwrap_or(1.0) as u32;

        let mut cmd = Vec::new();
        amf_str(&mut cmd, "publish");
        amf_num(&mut cmd, 3.0);
        cmd.push(0x05);
        amf_str(&mut cmd, &target.key);
        amf_str(&mut cmd, "live");
        self.send(8, MSG_COMMAND_AMF0, 0, self.stream_id, &cmd)
            .await?;
        loop {
            let values = self.next_command(rx).await?;
            if values.first().and_then(Amf::string) != Some("onStatus") {
                continue;
            }
            let code = values
                .iter()
                .find_map(|v| v.field("code"))
                .unwrap_or_default();
            if code == "NetStream.Publish.Start" {
                return Ok(());
            }
            let level = values
                .iter()
                .find_map(|v| v.field("level"))
                .unwrap_or_default();
            if level == "error"
                || code.contains("BadName")
                || code.contains("Rejected")
                || code.contains("Failed")
            {
                return Err(fail(
                    ErrorKind::PublishRejected,
                    format!("publish refused: {code}"),
                ));
            }
        }
    }

    /// Reads commands until the `_result`/`_error` for `txn`; returns its values.
    async fn expect_result(
        &mut self,
        rx: &mut ChunkReader,
        txn: f64,
        what: &str,
    ) -> Result<Vec<Amf>, RtmpError> {
        loop {
            let values = self.next_command(rx).await?;
            let name = values.first().and_then(Amf::string).unwrap_or_default();
            if values.get(1).and_then(Amf::number) != Some(txn) {
                continue;
            }
            match name {
                "_result" => return Ok(values),
                "_error" => {
                    let code = values
                        .iter()
                        .find_map(|v| v.field("code"))
                        .unwrap_or_default();
                    return Err(fail(
                        ErrorKind::PublishRejected,
                        format!("{what} refused: {code}"),
                    ));
                }
                _ => {}
            }
        }
    }

    async fn next_command(&mut self, rx: &mut ChunkReader) -> Result<Vec<Amf>, RtmpError> {
        loop {
            let (kind, payload) = rx.read_message(&mut self.reader).await?;
            match kind {
                MSG_SET_CHUNK_SIZE if payload.len() >= 4 => {
                    let size = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & 0x7FFF_FFFF;
                    rx.chunk_size = (size as usize).clamp(1, MAX_MESSAGE);
                }
                MSG_COMMAND_AMF0 => return Ok(amf_decode(&payload)),
                _ => {}
            }
        }
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|e| io_err(e, "RTMP write"))?;
        self.bytes_sent += bytes.len() as u64;
        Ok(())
    }

    /// Writes one message as chunks: a type-0 header, then type-3 continuation headers.
    pub async fn send(
        &mut self,
        csid: u8,
        kind: u8,
        ts: u32,
        stream: u32,
        payload: &[u8],
    ) -> Result<(), RtmpError> {
        let extended = ts >= 0xFF_FFFF;
        let ts24 = if extended { 0xFF_FFFF } else { ts };
        let mut out = Vec::with_capacity(payload.len() + 16 + payload.len() / OUT_CHUNK * 5);
        out.push(csid & 0x3F);
        out.extend_from_slice(&ts24.to_be_bytes()[1..]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.push(kind);
        out.extend_from_slice(&stream.to_le_bytes());
        if extended {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        for (i, chunk) in payload.chunks(OUT_CHUNK).enumerate() {
            if i > 0 {
                out.push(0xC0 | (csid & 0x3F));
                if extended {
                    out.extend_from_slice(&ts.to_be_bytes());
                }
            }
            out.extend_from_slice(chunk);
        }
        self.write_raw(&out).await
    }

    /// `@setDataFrame onMetaData`, the AVC and AAC sequence headers: what must precede media.
    pub async fn send_headers(&mut self, bitrate_kbps: u32, fps: u32) -> Result<(), RtmpError> {
        let mut meta = Vec::new();
        amf_str(&mut meta, "@setDataFrame");
        amf_str(&mut meta, "onMetaData");
        meta.push(0x03);
        for (k, v) in [
            ("width", 320.0),
            ("height", 240.0),
            ("framerate", f64::from(fps)),
            ("videocodecid", 7.0),
            ("audiocodecid", 10.0),
            ("videodatarate", f64::from(bitrate_kbps)),
        ] {
            amf_key(&mut meta, k);
            amf_num(&mut meta, v);
        }
        meta.extend_from_slice(&[0, 0, 9]);
        let sid = self.stream_id;
        self.send(4, MSG_DATA_AMF0, 0, sid, &meta).await?;
        let mut avcc = vec![0x17, 0, 0, 0, 0, 1, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1];
        avcc.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
        avcc.extend_from_slice(&SPS);
        avcc.push(1);
        avcc.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
        avcc.extend_from_slice(&PPS);
        self.send(6, MSG_VIDEO, 0, sid, &avcc).await?;
        let mut asc = vec![AAC_FLAGS, 0];
        asc.extend_from_slice(&AUDIO_SPECIFIC_CONFIG);
        self.send(4, MSG_AUDIO, 0, sid, &asc).await
    }

    /// One video frame of `size` bytes on the wire (≥ 16), a keyframe (IDR) or not.
    pub async fn send_video(&mut self, ts: u32, size: usize, key: bool) -> Result<(), RtmpError> {
        let nal_len = size.saturating_sub(9).max(2);
        let mut tag = Vec::with_capacity(9 + nal_len);
        tag.extend_from_slice(&[if key { 0x17 } else { 0x27 }, 1, 0, 0, 0]);
        tag.extend_from_slice(&(nal_len as u32).to_be_bytes());
        tag.push(if key { 0x65 } else { 0x41 });
        tag.resize(9 + nal_len, FILL);
        let sid = self.stream_id;
        self.send(6, MSG_VIDEO, ts, sid, &tag).await
    }

    /// One AAC frame (filler payload).
    pub async fn send_audio(&mut self, ts: u32) -> Result<(), RtmpError> {
        let mut tag = vec![AAC_FLAGS, 1];
        tag.resize(2 + 24, FILL);
        let sid = self.stream_id;
        self.send(4, MSG_AUDIO, ts, sid, &tag).await
    }
}

/// Reassembles incoming chunks into messages (only what a publisher receives: control and
/// command messages, so per-chunk-stream state is kept for the few streams servers use).
#[derive(Default)]
struct ChunkReader {
    chunk_size: usize,
    /// (csid, timestamp, length, type, payload so far)
    streams: Vec<(u32, u32, usize, u8, Vec<u8>)>,
}

impl ChunkReader {
    async fn read_message(&mut self, r: &mut OwnedReadHalf) -> Result<(u8, Vec<u8>), RtmpError> {
        let chunk_size = if self.chunk_size == 0 {
            128
        } else {
            self.chunk_size
        };
        let e = |e| io_err(e, "RTMP read");
        loop {
            let b0 = r.read_u8().await.map_err(e)?;
            let fmt = b0 >> 6;
            let csid = match b0 & 0x3F {
                0 => 64 + u32::from(r.read_u8().await.map_err(e)?),
                1 => 64 + u32::from(r.read_u16_le().await.map_err(e)?),
                n => u32::from(n),
            };
            let idx = match self.streams.iter().position(|s| s.0 == csid) {
                Some(i) => i,
                None if self.streams.len() < 64 => {
                    self.streams.push((csid, 0, 0, 0, Vec::new()));
                    self.streams.len() - 1
                }
                None => return Err(fail(ErrorKind::Other, "RTMP: too many chunk streams")),
            };
            let mut header = [0u8; 11];
            let n = [11, 7, 3, 0][usize::from(fmt)];
            r.read_exact(&mut header[..n]).await.map_err(e)?;
            let st = &mut self.streams[idx];
            if n >= 3 {
                st.1 = u32::from_be_bytes([0, header[0], header[1], header[2]]);
            }
            if n >= 7 {
                st.2 = u32::from_be_bytes([0, header[3], header[4], header[5]]) as usize;
                st.3 = header[6];
                if st.2 > MAX_MESSAGE {
                    return Err(fail(
                        ErrorKind::Other,
                        "RTMP: oversized message from server",
                    ));
                }
            }
            if st.1 == 0xFF_FFFF {
                r.read_u32().await.map_err(e)?;
            }
            if st.4.len() > st.2 {
                // A server that shrank a message's length mid-message: never underflow on it.
                return Err(fail(
                    ErrorKind::Other,
                    "RTMP: message length changed mid-message",
                ));
            }
            let take = (st.2 - st.4.len()).min(chunk_size);
            let start = st.4.len();
            st.4.resize(start + take, 0);
            r.read_exact(&mut st.4[start..]).await.map_err(e)?;
            if st.4.len() >= st.2 {
                return Ok((st.3, std::mem::take(&mut st.4)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_app_and_key() {
        let t = Target::parse(
            &url::Url::parse("rtmp://127.0.0.1/live/test").expect("url"),
            "x",
        )
        .expect("target");
        assert_eq!(
            (t.app.as_str(), t.key.as_str(), t.port),
            ("live", "test", 1935)
        );
        let t = Target::parse(&url::Url::parse("rtmp://h:1940/live").expect("url"), "pk")
            .expect("target");
        assert_eq!(
            (t.key.as_str(), t.tc_url.as_str()),
            ("pk", "rtmp://h:1940/live")
        );
        assert!(Target::parse(&url::Url::parse("rtmp://h/").expect("url"), "pk").is_err());
    }
}
