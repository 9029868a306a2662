//! Playlist parser tests: real-looking playlists of each kind, LL-HLS, and hostile input.

use super::*;

fn media(text: &str) -> MediaPlaylist {
    match parse(text) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("expected a media playlist, got {other:?}"),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

const MULTIVARIANT: &str = r#"#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English, stereo",LANGUAGE="en",DEFAULT=YES,URI="audio/en.m3u8"

#EXT-X-STREAM-INF:BANDWIDTH=5640000,AVERAGE-BANDWIDTH=5000000,RESOLUTION=1920x1080,FRAME-RATE=29.970,CODECS="avc1.640028,mp4a.40.2",AUDIO="aud"
1080p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,URI="1080p/iframes.m3u8"
#EXT-X-STREAM-INF:CODECS="avc1.4d401f,mp4a.40.2",BANDWIDTH=1280000,RESOLUTION=640x360
https://cdn.example.com/360p/index.m3u8?token=a,b
"#;

#[test]
fn multivariant_with_quoted_commas() {
    let Ok(Playlist::Multivariant(m)) = parse(MULTIVARIANT) else {
        panic!("expected multivariant");
    };
    assert_eq!(m.version, Some(6));
    assert!(m.independent_segments);
    assert_eq!(m.variants.len(), 2);
    let hd = &m.variants[0];
    assert_eq!(hd.bandwidth, 5_640_000);
    assert_eq!(hd.average_bandwidth, Some(5_000_000));
    assert_eq!(hd.resolution, Some((1920, 1080)));
    assert_eq!(hd.codecs.as_deref(), Some("avc1.640028,mp4a.40.2"));
    assert_eq!(hd.frame_rate, Some(29.97));
    assert_eq!(hd.audio.as_deref(), Some("aud"));
    assert_eq!(hd.uri, "1080p/index.m3u8");
    let sd = &m.variants[1];
    assert_eq!(sd.bandwidth, 1_280_000);
    assert_eq!(sd.codecs.as_deref(), Some("avc1.4d401f,mp4a.40.2"));
    assert_eq!(sd.uri, "https://cdn.example.com/360p/index.m3u8?token=a,b");
    assert_eq!(m.renditions.len(), 1);
    assert_eq!(m.renditions[0].name, "English, stereo");
    assert_eq!(m.renditions[0].uri.as_deref(), Some("audio/en.m3u8"));
    assert!(m.renditions[0].default);
}

#[test]
fn live_media_with_program_date_time() {
    let m = media(
        "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:2680\r\n\
         #EXT-X-PROGRAM-DATE-TIME:2024-05-01T20:00:00.000Z\r\n\
         #EXTINF:6.000,live\r\nseg2680.ts\r\n\
         #EXTINF:6.000,\r\nseg2681.ts\r\n\
         #EXT-X-DISCONTINUITY\r\n#EXTINF:5.5,\r\nseg2682.ts\r\n\
         #EXT-X-PROGRAM-DATE-TIME:2024-05-01T22:00:17.5+0200\r\n#EXTINF:6,\r\nseg2683.ts\r\n",
    );
    assert_eq!(m.target_duration, secs(6.0));
    assert_eq!(m.media_sequence, 2680);
    assert!(!m.end_list);
    let msns: Vec<u64> = m.segments.iter().map(|s| s.msn).collect();
    assert_eq!(msns, [2680, 2681, 2682, 2683]);
    assert_eq!(m.segments[0].title.as_deref(), Some("live"));
    assert_eq!(m.segments[1].title, None);
    let pdt = |i: usize| m.segments[i].program_date_time.map(|t| t.to_rfc3339());
    assert_eq!(pdt(0).as_deref(), Some("2024-05-01T20:00:00+00:00"));
    // Extrapolated from the previous segment; not across the discontinuity.
    assert_eq!(pdt(1).as_deref(), Some("2024-05-01T20:00:06+00:00"));
    assert!(m.segments[2].discontinuity);
    assert_eq!(pdt(2), None);
    assert_eq!(pdt(3).as_deref(), Some("2024-05-01T20:00:17.500+00:00"));
    assert_eq!(m.segments[2].duration, secs(5.5));
    assert_eq!(m.next_msn(), 2684);
}

#[test]
fn vod_with_endlist_and_map() {
    let m = media(
        "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:10\n\
         #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:9.009,\nfirst.m4s\n#EXTINF:3.003,\nlast.m4s\n#EXT-X-ENDLIST\n",
    );
    assert_eq!(m.playlist_type, Some(PlaylistType::Vod));
    assert!(m.end_list);
    assert_eq!(m.media_sequence, 0);
    assert_eq!(m.segments.len(), 2);
    assert_eq!(m.segments[1].msn, 1);
    assert_eq!(m.segments[0].map_uri.as_deref(), Some("init.mp4"));
    assert_eq!(m.live_start_index(), 0);
}

const LL_HLS: &str = r#"#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:9
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.012,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=1.004
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.00008,
fileSequence269.mp4
#EXT-X-PART:DURATION=1.0,URI="filePart270.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI="filePart270.1.mp4"
#EXT-X-PART:DURATION=1.0,URI="filePart270.2.mp4"
#EXT-X-PART:DURATION=1.0,URI="filePart270.3.mp4"
#EXTINF:4.00008,
fileSequence270.mp4
#EXT-X-PART:DURATION=1.0,URI="filePart271.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI="filePart271.1.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart271.2.mp4"
#EXT-X-RENDITION-REPORT:URI="../1M/waitForMSN.php",LAST-MSN=273,LAST-PART=2
"#;

#[test]
fn ll_hls_parts_preload_hint_and_server_control() {
    let m = media(LL_HLS);
    assert_eq!(m.part_target, Some(secs(1.004)));
    assert_eq!(
        m.server_control,
        Some(ServerControl {
            can_block_reload: true,
            part_hold_back: Some(secs(3.012)),
            hold_back: None,
            can_skip_until: Some(secs(24.0)),
        })
    );
    assert_eq!(m.skipped_segments, 3);
    let msns: Vec<u64> = m.segments.iter().map(|s| s.msn).collect();
    assert_eq!(msns, [269, 270]);
    assert_eq!(m.next_msn(), 271);
    let parts: Vec<(u64, u32, bool, &str)> = m
        .parts
        .iter()
        .map(|p| (p.msn, p.part_index, p.independent, p.uri.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            (270, 0, true, "filePart270.0.mp4"),
            (270, 1, false, "filePart270.1.mp4"),
            (270, 2, false, "filePart270.2.mp4"),
            (270, 3, false, "filePart270.3.mp4"),
            (271, 0, true, "filePart271.0.mp4"),
            (271, 1, false, "filePart271.1.mp4"),
        ]
    );
    assert_eq!(m.parts[0].duration, secs(1.0));
    assert_eq!(m.preload_hint.as_deref(), Some("filePart271.2.mp4"));
}

#[test]
fn garbage_is_not_hls() {
    for text in [
        "",
        "<html><body>502 Bad Gateway</body></html>",
        "\n#EXTM3U\n",
        "EXTM3U",
        "{\"error\":\"nope\"}",
    ] {
        assert_eq!(parse(text), Err(PlaylistError::NotHls), "{text:?}");
    }
}

#[test]
fn malformed_playlists_are_errors_with_lines() {
    let bad_inf = parse("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:abc,\nx.ts\n");
    assert_eq!(
        bad_inf,
        Err(PlaylistError::Invalid {
            line: 3,
            reason: "#EXTINF: invalid duration"
        })
    );
    assert_eq!(
        parse("#EXTM3U\n#EXTINF:6,\nx.ts\n"),
        Err(PlaylistError::MissingTag("#EXT-X-TARGETDURATION"))
    );
    assert_eq!(
        parse("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n").map(|_| ()),
        Err(PlaylistError::Invalid {
            line: 2,
            reason: "#EXT-X-STREAM-INF: missing or invalid BANDWIDTH"
        })
    );
    assert_eq!(
        parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-TARGETDURATION:2\n"),
        Err(PlaylistError::Mixed)
    );
    assert!(matches!(
        parse("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PART:URI=\"p.mp4\"\n"),
        Err(PlaylistError::Invalid { line: 3, .. })
    ));
}

#[test]
fn hostile_input_never_panics() {
    let nasty = [
        "#EXTM3U\n#EXT-X-TARGETDURATION:1e308\n#EXTINF:1e308,\na\n#EXTINF:1e308,\nb\n",
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXT-X-SKIP:SKIPPED-SEGMENTS=18446744073709551615\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na\n",
        "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59Z\n#EXT-X-TARGETDURATION:1\n#EXTINF:100000,\na\n#EXTINF:1,\nb\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"unterminated\nx\n",
        "#EXTM3U\n#EXT-X-PART:DURATION=é,URI=\"\u{0}\"\n",
        "#EXTM3U\n:::\n#:\n#EXT-X-MAP\n",
    ];
    for text in nasty {
        let _ = parse(text);
        if let Ok(Playlist::Media(m)) = parse(text) {
            let _ = (m.live_start_index(), m.next_msn());
        }
    }
}

#[test]
fn live_start_index_holds_back_three_target_durations() {
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:6\n");
    for i in 0..6 {
        text.push_str(&format!("#EXTINF:6,\ns{i}.ts\n"));
    }
    // Segment 3 starts exactly 18 s (3 × 6 s) from the end; segment 4 would be only 12 s.
    assert_eq!(media(&text).live_start_index(), 3);

    let short = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na\n#EXTINF:6,\nb\n");
    assert_eq!(short.live_start_index(), 0);

    let empty = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n");
    assert_eq!(empty.live_start_index(), 0);

    // A server HOLD-BACK replaces the 3 × target-duration default.
    let mut held = media(&text);
    held.server_control = Some(ServerControl {
        hold_back: Some(secs(30.0)),
        ..ServerControl::default()
    });
    assert_eq!(held.live_start_index(), 1);
}

#[test]
fn resolve_joins_relative_and_absolute_uris() {
    let base = url::Url::parse("https://cdn.example.com/live/abc/index.m3u8?t=1").expect("url");
    let r = |u: &str| resolve(&base, u).map(|u| u.to_string());
    assert_eq!(
        r("seg1.ts").as_deref(),
        Ok("https://cdn.example.com/live/abc/seg1.ts")
    );
    assert_eq!(
        r("../x/seg.ts").as_deref(),
        Ok("https://cdn.example.com/live/x/seg.ts")
    );
    assert_eq!(
        r("/root.m3u8").as_deref(),
        Ok("https://cdn.example.com/root.m3u8")
    );
    assert_eq!(r("http://other/a.ts").as_deref(), Ok("http://other/a.ts"));
}

#[test]
fn a_live_window_keeps_the_edge_and_absolute_sequence_numbers() {
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n");
    for i in 0..1000 {
        text.push_str(&format!("#EXTINF:2.0,\ns{i}.ts\n"));
    }
    let Ok(Playlist::Media(mut m)) = parse(&text) else {
        panic!("media playlist")
    };
    let next = m.next_msn();
    m.keep_last(32);
    assert_eq!(m.segments.len(), 32);
    assert_eq!(m.next_msn(), next, "the live edge is unchanged");
    assert_eq!(m.segments[0].msn, 100 + 1000 - 32);
    assert_eq!(m.segments[0].uri, "s968.ts");
    assert_eq!(m.media_sequence, m.segments[0].msn);
    assert!(m.segments.capacity() < 64, "the long list is freed");
}
