//! Clients that speak to the target: timed HTTP, HLS, chat, RTMP.
