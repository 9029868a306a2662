//! The load's destination for one run: the embedded staging server when the scenario asks
//! for it, every region's base, watch and chat URL resolved, and the [`ViewerSpec`] every
//! viewer task shares.

use std::sync::Arc;

use anyhow::Context;
use url::Url;

use crate::engine;
use crate::engine::spec::ViewerSpec;
use crate::engine::steps::JourneyParts;
use crate::plan::Shard;
use crate::protocol::http::ClientConfig;
use crate::scenario::{BaseUrl, Scenario};
use crate::staging::{EmbeddedServer, StagingConfig};

/// Where this run sends load.
pub(super) struct Target {
    /// Running while the run lasts, when the scenario targets `embedded`.
    server: Option<EmbeddedServer>,
    /// `target.base_url` resolved (the embedded server's address when used).
    pub base: Url,
    pub spec: Arc<ViewerSpec>,
    /// Shares the viewers' TLS handshake counters.
    pub client: Arc<ClientConfig>,
}

impl Target {
    pub async fn start(
        scenario: &Scenario,
        embedded: &StagingConfig,
        seed: u64,
        shard: Option<Shard>,
        placed: Option<usize>,
    ) -> anyhow::Result<Target> {
        let uses_embedded = scenario.target.base_url == BaseUrl::Embedded
            || scenario
                .regions
                .iter()
                .any(|r| r.base_url == Some(BaseUrl::Embedded));
        let server = if uses_embedded {
            Some(
                EmbeddedServer::start(embedded.clone())
                    .await
                    .context("starting the embedded staging server")?,
            )
        } else {
            None
        };
        let embedded_url = match &server {
            Some(s) => Some(Url::parse(&s.base_url()).context("embedded server address")?),
            None => None,
        };
        let base = resolve_base(&scenario.target.base_url, embedded_url.as_ref())?;
        let parts = engine::steps::JourneyParts::new(scenario)
            .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.source))?;
        let client = client(scenario, &parts)?;
        let spec = viewer_spec(
            scenario,
            parts,
            &client,
            &base,
            embedded_url.as_ref(),
            (seed, shard, placed),
        )?;
        Ok(Target {
            server,
            base,
            spec,
            client,
        })
    }

    pub async fn stop(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

fn client(scenario: &Scenario, parts: &JourneyParts) -> anyhow::Result<Arc<ClientConfig>> {
    let mut client = ClientConfig::new(
        scenario.target.timeout,
        scenario.target.insecure_tls,
        &parts.static_headers,
    )
    .map_err(|e| anyhow::anyhow!("{}: target.headers: {e}", scenario.source))?;
    if scenario.target.tls_resume {
        client = client
            .resuming_tls_sessions()
            .map_err(|e| anyhow::anyhow!("{}: target.tls: {e}", scenario.source))?;
    }
    Ok(client)
}

fn viewer_spec(
    scenario: &Scenario,
    parts: JourneyParts,
    client: &Arc<ClientConfig>,
    target_base: &Url,
    embedded_url: Option<&Url>,
    (seed, shard, placed): (u64, Option<Shard>, Option<usize>),
) -> anyhow::Result<Arc<ViewerSpec>> {
    let mut region_base = Vec::new();
    let mut watch_url = Vec::new();
    let mut chat_url = Vec::new();
    for r in &scenario.regions {
        let base = match &r.base_url {
            Some(b) => resolve_base(b, embedded_url)?,
            None => target_base.clone(),
        };
        // A templated URL is made per viewer from its join variables; the base stands in.
        let watch = match parts.watch_template {
            Some(_) => "",
            None => scenario.viewer.watch.url.as_str(),
        };
        let w = base.join(watch).with_context(|| {
            format!(
                "viewer.watch.url `{}` does not resolve against {base}",
                scenario.viewer.watch.url
            )
        })?;
        watch_url.push(w);
        if let Some(chat) = scenario
            .viewer
            .chat
            .as_ref()
            .filter(|_| parts.chat_template.is_none())
        {
            chat_url.push(engine::chat::resolve_url(&base, &chat.url).map_err(|e| {
                anyhow::anyhow!("viewer.chat.url `{}` against {base}: {e}", chat.url)
            })?);
        }
        region_base.push(base);
    }
    let mut allow_hosts = scenario.target.allow_hosts.clone();
    if embedded_url.is_some() {
        allow_hosts.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    }
    // One client configuration per region: same TLS config, the region's network profile.
    let clients = scenario
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // A placed region's pods run in that region's real network: emulating it on top
            // would count its latency twice, unless the scenario asks for both.
            let real_network =
                placed == Some(i) && r.placement.as_ref().is_some_and(|p| !p.emulate_network);
            let network = if real_network {
                None
            } else {
                r.network.clone()
            };
            client.with_network(network, seed ^ (i as u64 + 1))
        })
        .collect();
    let chat = scenario
        .viewer
        .chat
        .as_ref()
        .map(|c| engine::chat::ChatSpec::new(chat_url, c.messages_per_min, c.delivery));
    Ok(Arc::new(
        ViewerSpec {
            clients,
            source_addrs: scenario.target.source_addrs.clone(),
            viewer_id_stride: shard.map_or(1, |s| s.count),
            region_base,
            data: scenario.viewer.data.clone(),
            join: parts.steps,
            header_templates: parts.header_templates,
            watch_template: parts.watch_template,
            chat_template: parts.chat_template,
            watch_protocol: scenario.viewer.watch.protocol,
            watch_url,
            allow_hosts,
            rendition: scenario.viewer.watch.rendition,
            seed,
            chat,
            join_urls: Vec::new(),
            origins: Vec::new(),
        }
        .with_shared_urls(),
    ))
}

fn resolve_base(base: &BaseUrl, embedded: Option<&Url>) -> anyhow::Result<Url> {
    match base {
        BaseUrl::Url(u) => Ok(u.clone()),
        BaseUrl::Embedded => embedded
            .cloned()
            .context("the embedded server was not started"),
    }
}
