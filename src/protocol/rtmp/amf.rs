//! AMF0, as much as an RTMP publisher writes (commands, metadata) and reads (replies).

/// The AMF0 values a publisher needs to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf {
    Number(f64),
    Bool(bool),
    Str(String),
    Object(Vec<(String, Amf)>),
    Null,
}

impl Amf {
    pub(super) fn number(&self) -> Option<f64> {
        if let Amf::Number(n) = self {
            Some(*n)
        } else {
            None
        }
    }
    pub(super) fn string(&self) -> Option<&str> {
        if let Amf::Str(s) = self {
            Some(s)
        } else {
            None
        }
    }
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        let Amf::Object(fields) = self else {
            return None;
        };
        fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.string())
    }
}

pub(super) fn amf_num(out: &mut Vec<u8>, n: f64) {
    out.push(0x00);
    out.extend_from_slice(&n.to_be_bytes());
}

pub(super) fn amf_key(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
}

pub(super) fn amf_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x02);
    amf_key(out, s);
}

pub(super) fn amf_object(out: &mut Vec<u8>, fields: &[(&str, &str)]) {
    out.push(0x03);
    for (k, v) in fields {
        amf_key(out, k);
        amf_str(out, v);
    }
    out.extend_from_slice(&[0, 0, 9]);
}

/// Decodes as many AMF0 values as parse; stops at the first unknown type (servers' replies
/// only use the types above, plus ECMA arrays read as objects).
pub fn amf_decode(mut b: &[u8]) -> Vec<Amf> {
    let mut out = Vec::new();
    while let Some((v, rest)) = amf_value(b, 0) {
        out.push(v);
        b = rest;
    }
    out
}

fn take(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

pub(super) fn amf_string(b: &[u8]) -> Option<(String, &[u8])> {
    let (len, rest) = take(b, 2)?;
    let (s, rest) = take(rest, usize::from(u16::from_be_bytes([len[0], len[1]])))?;
    Some((String::from_utf8_lossy(s).into_owned(), rest))
}

fn amf_value(b: &[u8], depth: u8) -> Option<(Amf, &[u8])> {
    if depth > 8 {
        return None;
    }
    let (t, rest) = take(b, 1)?;
    match t[0] {
        0x00 => {
            let (n, rest) = take(rest, 8)?;
            Some((Amf::Number(f64::from_be_bytes(n.try_into().ok()?)), rest))
        }
        0x01 => take(rest, 1).map(|(v, r)| (Amf::Bool(v[0] != 0), r)),
        0x02 => amf_string(rest).map(|(s, r)| (Amf::Str(s), r)),
        0x03 => amf_fields(rest, depth),
        0x08 => amf_fields(take(rest, 4)?.1, depth),
        0x05 | 0x06 => Some((Amf::Null, rest)),
        _ => None,
    }
}

fn amf_fields(mut b: &[u8], depth: u8) -> Option<(Amf, &[u8])> {
    let mut fields = Vec::new();
    loop {
        if b.starts_with(&[0, 0, 9]) {
            return Some((Amf::Object(fields), &b[3..]));
        }
        let (key, rest) = amf_string(b)?;
        let (value, rest) = amf_value(rest, depth + 1)?;
        fields.push((key, value));
        b = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amf_round_trip_and_garbage() {
        let mut b = Vec::new();
        amf_str(&mut b, "_result");
        amf_num(&mut b, 1.0);
        amf_object(&mut b, &[("code", "NetConnection.Connect.Success")]);
        b.push(0x05);
        let v = amf_decode(&b);
        assert_eq!(v.len(), 4);
        assert_eq!(v[2].field("code"), Some("NetConnection.Connect.Success"));
        assert!(amf_decode(&[0x03, 0, 5, b'a']).is_empty());
        assert!(amf_decode(&[0x00, 1, 2]).is_empty());
    }
}
