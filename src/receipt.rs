//! The seal receipt: what was sealed, how and when, written inside the image at
//! `var/lib/amiprep/receipt.json`, and read back by `amiprep firstboot` on each new instance.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::profile::FirstbootConf;

/// Where the receipt lives in the image.
pub const RECEIPT: &str = "var/lib/amiprep/receipt.json";
/// One line per instance launched from a sealed image: the receipt it found on first boot.
pub const HISTORY: &str = "var/lib/amiprep/history.jsonl";
/// The identity of the instance that last ran `firstboot`, to tell a reboot from a new instance.
pub const INSTANCE: &str = "var/lib/amiprep/instance.json";

/// Bumped on any incompatible change of the receipt.
pub const RECEIPT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Receipt {
    pub schema_version: u32,
    pub amiprep_version: String,
    /// True when the seal completed without a failed action: the image may be captured.
    pub ready: bool,
    /// Why it is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// UTC, RFC 3339.
    pub sealed_at: String,
    pub profiles: Vec<String>,
    /// sha256 of the resolved profile's settings (`amiprep profile show --resolved` without
    /// names and origins), so two images can be compared for "sealed the same way" even when
    /// their profiles were named or composed differently.
    pub profile_sha256: String,
    pub totals: Totals,
    pub by_operation: Vec<OperationTotals>,
    /// Units whose state the seal changed.
    pub services: Vec<ServiceChange>,
    /// What `amiprep firstboot` is to do on each new instance.
    pub firstboot: FirstbootConf,
    /// The audit summary, once the seal runs the audit.
    #[serde(default)]
    pub audit: Option<serde_json::Value>,
}

/// The report's totals over all actions, plus the number of warnings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Totals {
    #[serde(flatten)]
    pub all: crate::report::Count,
    pub warnings: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperationTotals {
    pub operation: String,
    pub actions: u64,
    pub entries: u64,
    pub bytes: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceChange {
    pub unit: String,
    pub action: String,
    pub was: String,
}

impl Receipt {
    /// The receipt as written: pretty JSON with a final newline. Its sha256 is what the
    /// READY line quotes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a receipt always serializes");
        v.push(b'\n');
        v
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The current time as `2026-11-22T05:40:12Z`.
pub fn now_utc() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Formats seconds since the epoch as RFC 3339 UTC (Howard Hinnant's civil-from-days).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_325_412), "2026-11-22T05:30:12Z");
        assert_eq!(utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
