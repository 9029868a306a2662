//! Everything the viewers of one run share, built once (`cmd::run`'s target stage) and read by
//! every viewer: clients per region, URLs, join steps, templates, feeder, chat.

use std::sync::Arc;

use url::Url;

use crate::protocol::http::ClientConfig;
use crate::scenario::WatchProtocol;

use super::steps::PreparedStep;

/// Everything viewers share, built once per run.
pub struct ViewerSpec {
    /// Per region: the client configuration, carrying the region's network profile.
    pub clients: Vec<Arc<ClientConfig>>,
    /// Local addresses connections are spread over (`target.source_addrs`); empty = OS choice.
    pub source_addrs: Vec<std::net::IpAddr>,
    /// Distance between consecutive viewer ids in this process: the shard count under
    /// `--shard I/N` (shard I runs ids ≡ I−1 mod N), else 1.
    pub viewer_id_stride: u64,
    /// Per region: the base URL join paths and the watch URL resolve against.
    pub region_base: Vec<Url>,
    pub join: Vec<PreparedStep>,
    /// `target.headers` whose values use `{{name}}`s: rendered per viewer once defined.
    pub header_templates: Vec<(http::HeaderName, String)>,
    /// `viewer.data`, when the scenario has a feeder.
    pub data: Option<crate::scenario::Data>,
    /// `viewer.watch.url` when it uses `{{name}}`s (then `watch_url` is unused).
    pub watch_template: Option<String>,
    /// `viewer.chat.url` when it uses `{{name}}`s.
    pub chat_template: Option<String>,
    pub watch_protocol: WatchProtocol,
    /// Per region: the resolved watch URL.
    pub watch_url: Vec<Url>,
    pub allow_hosts: Vec<String>,
    pub rendition: crate::scenario::Rendition,
    pub seed: u64,
    /// `viewer.chat`, when the scenario has it.
    pub chat: Option<super::chat::ChatSpec>,
}
