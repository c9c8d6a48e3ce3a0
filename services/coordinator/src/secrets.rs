//! The epoch's secrets: its nonce, its selection seed and the key of its honeypot commitment,
//! all derived from the configured secret so that they are deterministic (a restarted or second
//! coordinator derives the same ones) and unguessable before the epoch opens.

use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

/// The configured secret. Never printed: `Debug` shows its length only.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// Whether none was configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    fn hmac(&self, message: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Secret({} bytes)", self.0.expose_secret().len())
    }
}

/// How an epoch's start is written into the nonce's message: as the gateway shows it
/// (`epochStart`).
#[must_use]
pub fn start_text(start: chrono::DateTime<chrono::Utc>) -> String {
    start.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The nonce and the selection seed derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nonce {
    /// The first 8 bytes of `HMAC-SHA256(secret, "{epoch_id}:{start}:{zipcode_hash}")`, as 16
    /// hex digits.
    pub nonce: String,
    /// The same 8 bytes as a big-endian integer, cut to 53 bits so that every JSON reader
    /// holds it exactly.
    pub selection_seed: u64,
}

/// The nonce of an epoch (seed 004 §2.2): `HMAC-SHA256(secret, "{epoch_id}:{start_time}:
/// {zipcode_hash}")`, where `start_time` is [`start_text`] and `zipcode_hash` is the
/// [`pool_hash`] of the candidates the selection draws from.
#[must_use]
pub fn nonce(secret: &Secret, epoch_id: &str, start: &str, zipcode_hash: &str) -> Nonce {
    let digest = secret.hmac(&format!("{epoch_id}:{start}:{zipcode_hash}"));
    let mut head = [0; 8];
    head.copy_from_slice(&digest[..8]);
    Nonce {
        nonce: hex::encode(head),
        selection_seed: u64::from_be_bytes(head) & ((1 << 53) - 1),
    }
}

/// The key that opens an epoch's honeypot commitment, revealed when the epoch closes.
#[must_use]
pub fn commitment_key(secret: &Secret, epoch_id: &str) -> String {
    hex::encode(secret.hmac(&format!("honeypots:{epoch_id}")))
}

/// Bytes of a sealed honeypot list: room for 85 zipcodes, the same length whatever their number.
const SEALED_BYTES: usize = 512;

fn keystream(secret: &Secret, epoch_id: &str, length: usize) -> Vec<u8> {
    let key = secret.hmac(&format!("seal:{epoch_id}"));
    let mut stream = vec![0; length];
    blake3::Hasher::new_keyed(&key)
        .finalize_xof()
        .fill(&mut stream);
    stream
}

/// Encrypts an epoch's honeypots (a keystream from blake3 keyed by an HMAC of the secret, XORed
/// over the comma-separated list padded with spaces), as hex.
pub fn seal(secret: &Secret, epoch_id: &str, honeypots: &[String]) -> anyhow::Result<String> {
    let mut plain = honeypots.join(",").into_bytes();
    anyhow::ensure!(
        plain.len() <= SEALED_BYTES,
        "{} honeypots do not fit a sealed list",
        honeypots.len()
    );
    plain.resize(SEALED_BYTES, b' ');
    let stream = keystream(secret, epoch_id, SEALED_BYTES);
    let sealed: Vec<u8> = plain
        .iter()
        .zip(stream)
        .map(|(byte, key)| byte ^ key)
        .collect();
    Ok(hex::encode(sealed))
}

/// Reads back what [`seal`] wrote; fails when the secret is not the one that sealed it.
pub fn unseal(secret: &Secret, epoch_id: &str, sealed: &str) -> anyhow::Result<Vec<String>> {
    let sealed =
        hex::decode(sealed).map_err(|_| anyhow::anyhow!("sealed honeypots are not hex"))?;
    let stream = keystream(secret, epoch_id, sealed.len());
    let plain: Vec<u8> = sealed
        .iter()
        .zip(stream)
        .map(|(byte, key)| byte ^ key)
        .collect();
    let text = std::str::from_utf8(&plain)
        .map_err(|_| anyhow::anyhow!("sealed honeypots do not open with this secret"))?;
    let honeypots: Vec<String> = text
        .trim_end_matches(' ')
        .split(',')
        .filter(|zipcode| !zipcode.is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(
        honeypots
            .iter()
            .all(|zipcode| zipcode.len() == 5 && zipcode.bytes().all(|byte| byte.is_ascii_digit())),
        "sealed honeypots do not open with this secret"
    );
    Ok(honeypots)
}

/// SHA-256 (hex) over lines that describe a candidate pool, in the order given.
#[must_use]
pub fn pool_hash<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_is_the_documented_hmac() {
        let secret = Secret::new("s3cret");
        let nonce = nonce(
            &secret,
            "2025-10-01T16-00-00",
            "2025-10-01T16:00:00.000Z",
            "ab",
        );
        // HMAC-SHA256 computed independently (Python's hmac module gives the same digest)
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(b"2025-10-01T16-00-00:2025-10-01T16:00:00.000Z:ab");
        let digest = mac.finalize().into_bytes();
        assert_eq!(nonce.nonce, hex::encode(&digest[..8]));
        assert_eq!(nonce.nonce.len(), 16);
        assert!(nonce.selection_seed < 1 << 53);
        let other = super::nonce(
            &secret,
            "2025-10-01T20-00-00",
            "2025-10-01T20:00:00.000Z",
            "ab",
        );
        assert_ne!(other.nonce, nonce.nonce);
        assert_ne!(
            super::nonce(
                &Secret::new("other"),
                "2025-10-01T16-00-00",
                "2025-10-01T16:00:00.000Z",
                "ab"
            ),
            nonce
        );
    }

    #[test]
    fn sealed_honeypots_open_with_the_secret_only() {
        let secret = Secret::new("s3cret");
        let honeypots = vec!["00501".to_owned(), "19101".to_owned()];
        let sealed = seal(&secret, "2025-10-01T16-00-00", &honeypots).expect("fits");
        assert_eq!(sealed.len(), 2 * SEALED_BYTES);
        assert_eq!(
            seal(&secret, "2025-10-01T16-00-00", &[])
                .expect("fits")
                .len(),
            sealed.len()
        );
        assert_eq!(
            unseal(&secret, "2025-10-01T16-00-00", &sealed).expect("opens"),
            honeypots
        );
        assert!(unseal(&Secret::new("other"), "2025-10-01T16-00-00", &sealed).is_err());
        assert!(unseal(&secret, "2025-10-01T20-00-00", &sealed).is_err());
        assert!(
            !sealed.contains(&hex::encode("00501")),
            "the plain text does not show"
        );
        let many: Vec<String> = (0..100).map(|index| format!("{index:05}")).collect();
        assert!(seal(&secret, "2025-10-01T16-00-00", &many).is_err());
    }

    #[test]
    fn the_secret_is_never_printed() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(7 bytes)");
    }

    #[test]
    fn start_text_matches_the_gateway() {
        use chrono::TimeZone as _;
        let start = chrono::Utc
            .with_ymd_and_hms(2025, 10, 1, 16, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(start_text(start), "2025-10-01T16:00:00.000Z");
    }
}
