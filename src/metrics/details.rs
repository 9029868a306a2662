//! The first detail seen for each error class in this process (the escaped first bytes of an
//! answer that was not HTTP, the size of a playlist over the cap, where a redirect loop went):
//! counts say how often, this says what it was. One slot per class, set once, so it costs
//! nothing per request after the first and stays bounded whatever the target sends.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::ErrorKind;

static FIRST: [OnceLock<String>; ErrorKind::COUNT] = [const { OnceLock::new() }; ErrorKind::COUNT];

/// Longest detail kept, in characters.
const MAX_DETAIL: usize = 300;

/// Remembers `detail` as the example of `kind` unless one is already kept.
pub fn note(kind: ErrorKind, detail: &str) {
    let slot = &FIRST[kind.index()];
    if slot.get().is_none() {
        let _ = slot.set(detail.chars().take(MAX_DETAIL).collect());
    }
}

/// The kept details of the classes in `present` (the classes a result counted).
pub fn for_classes<'a>(
    present: impl Iterator<Item = &'a ErrorKind>,
) -> BTreeMap<ErrorKind, String> {
    present
        .filter_map(|k| Some((*k, FIRST[k.index()].get()?.clone())))
        .collect()
}

static REDIRECT: OnceLock<String> = OnceLock::new();

/// Remembers the first redirect chain followed (`from` → `to` in `hops` hops).
pub fn note_redirect(from: &url::Url, to: &url::Url, hops: u32) {
    if REDIRECT.get().is_none() {
        let _ = REDIRECT.set(format!(
            "redirects were followed (at most 5 per request, each hop checked against \
             target.allow_hosts), e.g. {from} → {to} in {hops} hop(s)"
        ));
    }
}

/// The first redirect chain followed, in words, if any.
pub fn redirect_notice() -> Option<String> {
    REDIRECT.get().cloned()
}
