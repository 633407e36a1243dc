//! Date math in index names, as Elasticsearch resolves it: `<logs-{now/d}>`,
//! `<logs-{now-1M/M{yyyy.MM}}>`, `<logs-{now/d{yyyy.MM.dd|+01:00}}>`.
//! Resolved against the injected clock. Anything this resolver does not understand (a named
//! time zone, an unknown format letter) is refused rather than guessed.

use crate::clock::{civil_from_days, days_from_civil};

/// Resolves a `<…>` expression to a concrete name; `None` when it cannot be resolved exactly.
pub fn resolve(expr: &str, now_ms: i64) -> Result<String, String> {
    let inner = expr
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .ok_or_else(|| format!("date math expression [{expr}] must be enclosed in < and >"))?;
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('{' | '}' | '\\')) => out.push(e),
                _ => return Err(format!("invalid escape in [{expr}]")),
            },
            '{' => {
                let mut depth = 1;
                let mut block = String::new();
                for c in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    block.push(c);
                }
                if depth != 0 {
                    return Err(format!("unbalanced braces in [{expr}]"));
                }
                out.push_str(&block_value(&block, now_ms).map_err(|e| format!("[{expr}]: {e}"))?);
            }
            '}' => return Err(format!("unbalanced braces in [{expr}]")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One `{math{format|zone}}` block.
fn block_value(block: &str, now_ms: i64) -> Result<String, String> {
    let (math, fmt) = match block.find('{') {
        Some(i) => {
            let f = block[i + 1..].strip_suffix('}').ok_or("unbalanced format braces")?;
            (&block[..i], f)
        }
        None => (block, ""),
    };
    let (format, zone) = match fmt.split_once('|') {
        Some((f, z)) => (f, z),
        None => (fmt, ""),
    };
    let format = if format.is_empty() { "yyyy.MM.dd" } else { format };
    let offset_s = zone_offset(zone)?;
    let t = evaluate(math, now_ms / 1000 + offset_s)?;
    render(format, t)
}

fn zone_offset(zone: &str) -> Result<i64, String> {
    match zone {
        "" | "UTC" | "Z" | "Etc/UTC" | "GMT" | "+00:00" => Ok(0),
        z if (z.starts_with('+') || z.starts_with('-')) && z.len() == 6 && &z[3..4] == ":" => {
            let h: i64 = z[1..3].parse().map_err(|_| format!("bad time zone [{z}]"))?;
            let m: i64 = z[4..6].parse().map_err(|_| format!("bad time zone [{z}]"))?;
            if h > 18 || m > 59 {
                return Err(format!("bad time zone [{z}]"));
            }
            Ok(if z.starts_with('-') { -1 } else { 1 } * (h * 3600 + m * 60))
        }
        z => Err(format!("time zone [{z}] is not supported by Sluice (use UTC or an offset like +01:00)")),
    }
}

/// Local seconds since the epoch (already shifted by the zone offset).
fn evaluate(math: &str, local_s: i64) -> Result<i64, String> {
    let rest = math.strip_prefix("now").ok_or_else(|| format!("date math must start with now: [{math}]"))?;
    let mut t = local_s;
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            op @ (b'+' | b'-') => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let n: i64 = if j == start { 1 } else { rest[start..j].parse().map_err(|_| "number too large")? };
                let unit = *b.get(j).ok_or("missing unit")?;
                let n = if op == b'-' { -n } else { n };
                t = add(t, n, unit)?;
                i = j + 1;
            }
            b'/' => {
                let unit = *b.get(i + 1).ok_or("missing rounding unit")?;
                t = round_down(t, unit)?;
                i += 2;
            }
            c => return Err(format!("unexpected [{}] in date math", c as char)),
        }
    }
    Ok(t)
}

fn add(t: i64, n: i64, unit: u8) -> Result<i64, String> {
    let secs = |k: i64| n.checked_mul(k).and_then(|d| t.checked_add(d)).ok_or("date math overflow");
    Ok(match unit {
        b's' => secs(1)?,
        b'm' => secs(60)?,
        b'h' | b'H' => secs(3600)?,
        b'd' => secs(86_400)?,
        b'w' => secs(7 * 86_400)?,
        b'M' | b'y' => {
            let months = if unit == b'y' { n.checked_mul(12).ok_or("date math overflow")? } else { n };
            let (days, sod) = (t.div_euclid(86_400), t.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            let total = y * 12 + i64::from(m) - 1 + months;
            let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
            let nd = d.min(days_in_month(ny, nm));
            days_from_civil(ny, nm, nd) * 86_400 + sod
        }
        u => return Err(format!("unknown date math unit [{}]", u as char)),
    })
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let next = if m == 12 { days_from_civil(y + 1, 1, 1) } else { days_from_civil(y, m + 1, 1) };
    (next - days_from_civil(y, m, 1)) as u32
}

fn round_down(t: i64, unit: u8) -> Result<i64, String> {
    let days = t.div_euclid(86_400);
    Ok(match unit {
        b's' => t,
        b'm' => t - t.rem_euclid(60),
        b'h' | b'H' => t - t.rem_euclid(3600),
        b'd' => days * 86_400,
        b'w' => {
            // ISO weeks start on Monday; 1970-01-01 was a Thursday.
            let dow = (days + 3).rem_euclid(7);
            (days - dow) * 86_400
        }
        b'M' => {
            let (y, m, _) = civil_from_days(days);
            days_from_civil(y, m, 1) * 86_400
        }
        b'y' => {
            let (y, _, _) = civil_from_days(days);
            days_from_civil(y, 1, 1) * 86_400
        }
        u => return Err(format!("unknown rounding unit [{}]", u as char)),
    })
}

/// Renders a Java-style date pattern: y/u (year), M (month), d (day), H (hour), m, s; other
/// letters are refused; punctuation and digits pass through; 'quoted' text is literal.
fn render(format: &str, t: i64) -> Result<String, String> {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let sod = t.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..].iter().position(|&x| x == '\'').ok_or("unterminated quote in date format")?;
            out.extend(&chars[i + 1..i + 1 + end]);
            i += end + 2;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let pad = |v: i64, w: usize| format!("{v:0w$}");
        match c {
            'y' | 'u' | 'Y' => out.push_str(&if run == 2 { pad(y.rem_euclid(100), 2) } else { pad(y, run) }),
            'M' => out.push_str(&pad(i64::from(mo), run)),
            'd' => out.push_str(&pad(i64::from(d), run)),
            'H' => out.push_str(&pad(h, run)),
            'm' => out.push_str(&pad(mi, run)),
            's' => out.push_str(&pad(s, run)),
            c if c.is_ascii_alphabetic() => return Err(format!("date format letter [{c}] is not supported by Sluice")),
            c => out.extend(std::iter::repeat_n(c, run)),
        }
        i += run;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339;

    #[test]
    fn resolves_like_elasticsearch() {
        // Elasticsearch's documented examples, with now = 2024-03-22T12:34:56Z.
        let now = parse_rfc3339("2024-03-22T12:34:56Z").unwrap();
        let table = [
            ("<logstash-{now/d}>", "logstash-2024.03.22"),
            ("<logstash-{now/M}>", "logstash-2024.03.01"),
            ("<logstash-{now/M{yyyy.MM}}>", "logstash-2024.03"),
            ("<logstash-{now/M-1M{yyyy.MM}}>", "logstash-2024.02"),
            ("<logstash-{now/d{yyyy.MM.dd|+12:00}}>", "logstash-2024.03.23"),
            ("<logs-{now-1d}>", "logs-2024.03.21"),
            ("<logs-{now+1y/y{yyyy}}>", "logs-2025"),
            ("<logs-{now/w{yyyy.MM.dd}}>", "logs-2024.03.18"),
            ("<logs-{now{yyyyMMdd-HH}}>", "logs-20240322-12"),
            ("<elastic\\{ON\\}-{now/M}>", "elastic{ON}-2024.03.01"),
            ("<static>", "static"),
        ];
        for (input, want) in table {
            assert_eq!(resolve(input, now).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn month_arithmetic_clamps() {
        let now = parse_rfc3339("2024-03-31T00:00:00Z").unwrap();
        assert_eq!(resolve("<x-{now-1M}>", now).as_deref(), Ok("x-2024.02.29"));
    }

    #[test]
    fn refuses_what_it_cannot_resolve_exactly() {
        for bad in ["<x-{now/d{yyyy|Europe/Paris}}>", "<x-{now/q}>", "<x-{then}>", "<x-{now/d{EEE}}>", "<x-{now", "x-{now}", "<x}>"] {
            assert!(resolve(bad, 0).is_err(), "{bad}");
        }
    }
}
