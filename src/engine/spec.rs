//! Everything the viewers of one run share, built once (`cmd::run`'s target stage) and read by
//! every viewer: clients per region, URLs, join steps, templates, feeder, chat.

use std::sync::Arc;

use url::Url;

use crate::protocol::http::{ClientConfig, Origin};
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
    /// Per join step, per region: the step's URL when its path has no `{{name}}`, resolved
    /// once for every viewer (None: made per viewer from its variables).
    pub join_urls: Vec<Option<Vec<Url>>>,
    /// The origins of the regions' base and watch URLs, parsed once: a viewer's connection
    /// to one of them clones it instead of parsing its URL per request.
    pub origins: Vec<Origin>,
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

impl ViewerSpec {
    /// The URLs every viewer would make alike, made once: each untemplated join step's URL
    /// per region, and the distinct origins of the base and watch URLs. A path that does not
    /// resolve is left to the viewers, which report it as they always have.
    pub fn with_shared_urls(mut self) -> ViewerSpec {
        self.join_urls = self
            .join
            .iter()
            .map(|step| {
                if step.path.contains("{{") {
                    return None;
                }
                let urls: Result<Vec<Url>, _> = self
                    .region_base
                    .iter()
                    .map(|b| b.join(&step.path))
                    .collect();
                urls.ok()
            })
            .collect();
        let mut origins: Vec<Origin> = Vec::new();
        for url in self.region_base.iter().chain(&self.watch_url) {
            if let Ok(origin) = Origin::from_url(url) {
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
        }
        self.origins = origins;
        self
    }

    /// Join step `step`'s URL in `region`, when it is the same for every viewer.
    pub fn join_url(&self, step: usize, region: u16) -> Option<&Url> {
        self.join_urls.get(step)?.as_ref()?.get(region as usize)
    }
}
