//! Parsing of sizes ("16KiB") and durations ("500ms") written in configuration.

use std::time::Duration;

pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size (like 16KiB or 100MiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` in `{s}`")),
    };
    match n.checked_mul(mult) {
        // Limits are added to and multiplied: a larger one could overflow.
        Some(v) if v <= MAX_SIZE => Ok(v),
        _ => Err(format!("size `{s}` is too large (at most 1048576GiB, a pebibyte)")),
    }
}

/// The largest size a setting may take.
pub const MAX_SIZE: u64 = 1 << 50;

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a duration (like 500ms or 10s)"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        other => return Err(format!("unknown duration unit `{other}` in `{s}`")),
    };
    // Deadlines are points in time: a longer duration would overflow them.
    if d > MAX_DURATION {
        return Err(format!("`{s}` is too long (at most 876000h, a hundred years)"));
    }
    Ok(d)
}

/// The longest duration a setting may take.
pub const MAX_DURATION: Duration = Duration::from_secs(876_000 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (input, want) in [("16KiB", Some(16384)), ("100MiB", Some(100 << 20)), ("10", Some(10)),
            ("1GB", Some(1_000_000_000)), ("x", None), ("5 parsecs", None), ("", None),
            ("1048576GiB", Some(MAX_SIZE)), ("1048577GiB", None), ("18446744073709551615", None)] {
            assert_eq!(parse_size(input).ok(), want, "{input}");
        }
    }

    #[test]
    fn durations() {
        for (input, want) in [("500ms", Some(Duration::from_millis(500))), ("10s", Some(Duration::from_secs(10))),
            ("2m", Some(Duration::from_secs(120))), ("3", Some(Duration::from_secs(3))), ("1y", None), ("s", None),
            ("876000h", Some(MAX_DURATION)), ("876001h", None), ("18446744073709551615", None), ("18446744073709551615h", None)] {
            assert_eq!(parse_duration(input).ok(), want, "{input}");
        }
    }
}
