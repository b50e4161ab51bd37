//! Header plumbing shared by every pair: edits the filter applies, path
//! rewriting, and the rate-limit header table with its time formats.

/// One change to a header map, applied by `filter.rs` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    Set(String, String),
    Remove(String),
}

impl HeaderEdit {
    pub fn set(name: &str, value: impl Into<String>) -> HeaderEdit {
        HeaderEdit::Set(name.to_string(), value.into())
    }

    pub fn remove(name: &str) -> HeaderEdit {
        HeaderEdit::Remove(name.to_string())
    }
}

/// A header's value, matched case-insensitively.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Headers that carry the client's credential.
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-api-key"];

/// The first credential header sent more than once: as two header lines, or
/// as one comma-joined value (Envoy joins repeated `authorization` lines
/// with `,`, which no API key or bearer token contains). Such a request is
/// refused instead of sending the upstream a merged key.
pub fn repeated_credential(headers: &[(String, String)]) -> Option<&'static str> {
    CREDENTIAL_HEADERS.iter().copied().find(|name| {
        let mut values = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => true,
            (Some(only), None) => only.contains(','),
            _ => false,
        }
    })
}

/// Removes every header whose (lower-case) name starts with one of `prefixes`
/// or equals one of `names`.
pub fn remove_matching(
    headers: &[(String, String)],
    prefixes: &[&str],
    names: &[&str],
    edits: &mut Vec<HeaderEdit>,
) {
    for (name, _) in headers {
        let has_prefix = |p: &&str| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        };
        let matches =
            prefixes.iter().any(has_prefix) || names.iter().any(|n| name.eq_ignore_ascii_case(n));
        let already = || {
            edits
                .iter()
                .any(|e| matches!(e, HeaderEdit::Remove(r) if r.eq_ignore_ascii_case(name)))
        };
        if matches && !already() {
            edits.push(HeaderEdit::Remove(name.to_ascii_lowercase()));
        }
    }
}

/// Rate-limit headers: `(OpenAI name, Anthropic name, is a reset)`. A
/// reset is a duration in OpenAI's (`6m0s`) and an RFC 3339 timestamp in
/// Anthropic's.
pub const RATE_LIMITS: &[(&str, &str, bool)] = &[
    (
        "x-ratelimit-limit-requests",
        "anthropic-ratelimit-requests-limit",
        false,
    ),
    (
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-requests-remaining",
        false,
    ),
    (
        "x-ratelimit-reset-requests",
        "anthropic-ratelimit-requests-reset",
        true,
    ),
    (
        "x-ratelimit-limit-tokens",
        "anthropic-ratelimit-tokens-limit",
        false,
    ),
    (
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-tokens-remaining",
        false,
    ),
    (
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-tokens-reset",
        true,
    ),
];

/// OpenAI rate-limit headers copied under their Anthropic names, resets as
/// the instant `now_seconds` plus the duration (left out when unreadable or
/// out of range: `reset_at`).
pub fn rate_limits_to_anthropic(
    headers: &[(String, String)],
    now_seconds: u64,
    edits: &mut Vec<HeaderEdit>,
) {
    for (openai, anthropic, reset) in RATE_LIMITS {
        let Some(value) = header(headers, openai) else {
            continue;
        };
        let value = match reset {
            true => parse_duration(value).and_then(|seconds| reset_at(now_seconds, seconds)),
            false => Some(value.to_string()),
        };
        if let Some(value) = value {
            edits.push(HeaderEdit::set(anthropic, value));
        }
    }
}

/// Anthropic rate-limit headers copied under their OpenAI names, resets as
/// the seconds from `now_seconds` to the instant (left out when unreadable
/// or out of range: `reset_in`).
pub fn rate_limits_to_openai(
    headers: &[(String, String)],
    now_seconds: u64,
    edits: &mut Vec<HeaderEdit>,
) {
    for (openai, anthropic, reset) in RATE_LIMITS {
        let Some(value) = header(headers, anthropic) else {
            continue;
        };
        let value = match reset {
            true => parse_rfc3339(value).and_then(|at| reset_in(now_seconds, at)),
            false => Some(value.to_string()),
        };
        if let Some(value) = value {
            edits.push(HeaderEdit::set(openai, value));
        }
    }
}

/// The path without its query string.
pub fn path_only(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// The path a converted request is sent to: the configured one, or the
/// incoming path with its `from` suffix replaced by `to` (prefix kept,
/// query dropped).
pub fn upstream_path(incoming: &str, from: &str, to: &str, configured: Option<&str>) -> String {
    if let Some(path) = configured {
        return path.to_string();
    }
    let path = path_only(incoming);
    let prefix = path.strip_suffix(from).unwrap_or("");
    format!("{prefix}{to}")
}

/// Seconds since the epoch → RFC 3339 UTC (`2026-11-21T19:33:42Z`).
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The furthest a rate-limit reset may lie from now, in seconds (31 days):
/// no API's rate-limit window is longer, so a reset beyond it is a broken
/// value and is dropped rather than translated.
pub const MAX_RESET_SECONDS: u64 = 31 * 86_400;

/// A reset duration (seconds from now) → the timestamp it names, if it is
/// within `MAX_RESET_SECONDS`.
pub fn reset_at(now_seconds: u64, in_seconds: f64) -> Option<String> {
    let seconds = in_seconds.ceil();
    if !(0.0..=MAX_RESET_SECONDS as f64).contains(&seconds) {
        return None;
    }
    Some(rfc3339(now_seconds.checked_add(seconds as u64)?))
}

/// A reset timestamp → the duration until it (`"0s"` once past), if it is
/// within `MAX_RESET_SECONDS` of now either way.
pub fn reset_in(now_seconds: u64, at: u64) -> Option<String> {
    let distance = at.abs_diff(now_seconds);
    (distance <= MAX_RESET_SECONDS).then(|| format!("{}s", at.saturating_sub(now_seconds)))
}

/// RFC 3339 (`2026-11-21T19:34:00Z`, fractions and offsets allowed) →
/// seconds since the epoch. Only real instants: a calendar date (leap years
/// counted), hours 00–23, minutes and seconds 00–59 (60 for a leap second),
/// an offset within ±23:59, years from 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let (date, time) = text.trim().split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year = digits(date_parts.next()?, 4)?;
    let month = digits(date_parts.next()?, 2)?;
    let day = digits(date_parts.next()?, 2)?;
    if date_parts.next().is_some() {
        return None;
    }
    let (clock, offset_seconds) = split_offset(time)?;
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut clock_parts = clock.split(':');
    let hour = digits(clock_parts.next()?, 2)?;
    let minute = digits(clock_parts.next()?, 2)?;
    let second = digits(clock_parts.next()?, 2)?;
    if clock_parts.next().is_some() {
        return None;
    }
    let valid = year >= 1970
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(i64::try_from(local).ok()? - offset_seconds).ok()
}

/// Exactly `width` ASCII digits, as a number.
fn digits(text: &str, width: usize) -> Option<u64> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Splits `HH:MM:SS(.f)(Z|±HH:MM)` into the clock and the offset in seconds.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = offset.get(1..)?.split_once(':')?;
    let (hours, minutes) = (digits(hours, 2)?, digits(minutes, 2)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = i64::try_from(hours * 3600 + minutes * 60).ok()?;
    Some((clock, sign * seconds))
}

/// (year, month, day) → days since 1970-01-01; the inverse of `civil_from_days`.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// OpenAI's reset durations (`6m0s`, `1.5s`, `20ms`) → seconds. A number
/// too long for a float is infinite, which `reset_at` refuses.
pub fn parse_duration(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..number_len)?.parse().ok()?;
        rest = rest.get(number_len..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" | "" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = rest.get(unit_len..)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_their_prefix_and_lose_the_query() {
        assert_eq!(
            upstream_path(
                "/v1/messages?beta=true",
                "/v1/messages",
                "/v1/chat/completions",
                None
            ),
            "/v1/chat/completions"
        );
        assert_eq!(
            upstream_path(
                "/openai/v1/messages",
                "/v1/messages",
                "/v1/chat/completions",
                None
            ),
            "/openai/v1/chat/completions"
        );
        assert_eq!(
            upstream_path("/v1/messages", "/v1/messages", "/x", Some("/api/chat")),
            "/api/chat"
        );
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_376_022), "2026-11-22T19:33:42Z");
    }

    #[test]
    fn rfc3339_round_trips_and_accepts_offsets_and_fractions() {
        for t in [0, 951_782_400, 1_795_376_022, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2026-11-22T19:33:42.123Z"),
            Some(1_795_376_022)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T21:33:42+02:00"),
            Some(1_795_376_022)
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("6m0s"), Some(360.0));
        assert_eq!(parse_duration("1h2m3s"), Some(3723.0));
        assert_eq!(parse_duration("20ms"), Some(0.02));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("7"), Some(7.0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn repeated_credentials_are_found_as_lines_or_joined_values() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            repeated_credential(&h(&[("authorization", "Bearer A1,Bearer A2")])),
            Some("authorization")
        );
        assert_eq!(
            repeated_credential(&h(&[("X-Api-Key", "k1"), ("x-api-key", "k2")])),
            Some("x-api-key")
        );
        assert_eq!(
            repeated_credential(&h(&[("authorization", "Bearer A"), ("x-api-key", "K")])),
            None
        );
        assert_eq!(repeated_credential(&h(&[("accept", "a, b")])), None);
    }

    #[test]
    fn header_lookup_ignores_case() {
        let headers = vec![("X-Api-Key".to_string(), "k".to_string())];
        assert_eq!(header(&headers, "x-api-key"), Some("k"));
        assert_eq!(header(&headers, "authorization"), None);
    }
}
