//! Who signed a request: SS58 hotkeys, sr25519 signatures over the seeds' commitment strings,
//! a clock window, and each (hotkey, commitment) accepted once.
//!
//! Miners and validators sign with their hotkey the way the network's clients do
//! (`Keypair.sign(commitment.encode()).hex()`, from `bittensor-wallet` or
//! `substrate-interface`): sr25519 under Substrate's signing context. Polkadot.js-style
//! signers wrap the message in `<Bytes>…</Bytes>`; both forms are accepted, as the Python
//! `Keypair.verify` does.

use blake2::{Blake2b512, Digest as _};
use schnorrkel::{PublicKey, Signature};

/// Substrate's signing context.
const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Why a request's signature is refused. Each is said plainly in the 401 body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not an SS58 address of a 32-byte key.
    #[error("hotkey is not an SS58 address of a 32-byte key")]
    BadHotkey,
    /// Not 64 bytes of hex.
    #[error("signature is not 64 bytes of hex")]
    BadSignature,
    /// Valid encoding, wrong signer or message.
    #[error("signature does not verify for this hotkey and commitment")]
    Forged,
    /// Outside the clock window.
    #[error("timestamp is more than {0} seconds away from the server's clock")]
    Expired(i64),
    /// The same hotkey already used this commitment.
    #[error("this signed request was already used")]
    Replayed,
    /// Not in the metagraph (or not a validator where one is required).
    #[error("{0}")]
    NotAllowed(String),
    /// Banned for fabricating.
    #[error(
        "this hotkey is banned for fabricating listings (GET /api/miners/{{hotkey}}/epochs on the read API)"
    )]
    Banned,
}

impl AuthError {
    /// A stable name for metrics and bodies.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadHotkey => "bad_hotkey",
            Self::BadSignature => "bad_signature",
            Self::Forged => "forged",
            Self::Expired(_) => "expired",
            Self::Replayed => "replayed",
            Self::NotAllowed(_) => "not_allowed",
            Self::Banned => "banned",
        }
    }
}

/// The 32-byte public key an SS58 address holds, its checksum verified (any network prefix).
pub fn decode_ss58(address: &str) -> Result<[u8; 32], AuthError> {
    if address.len() > 64 {
        return Err(AuthError::BadHotkey);
    }
    let bytes = bs58::decode(address)
        .into_vec()
        .map_err(|_| AuthError::BadHotkey)?;
    // one prefix byte for network ids below 64, two above
    let prefix = match bytes.first() {
        Some(first) if *first < 64 => 1,
        Some(first) if *first < 128 => 2,
        _ => return Err(AuthError::BadHotkey),
    };
    if bytes.len() != prefix + 32 + 2 {
        return Err(AuthError::BadHotkey);
    }
    let (body, checksum) = bytes.split_at(prefix + 32);
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(body);
    if hasher.finalize()[..2] != *checksum {
        return Err(AuthError::BadHotkey);
    }
    let mut key = [0; 32];
    key.copy_from_slice(&body[prefix..]);
    Ok(key)
}

/// Whether `signature_hex` is `hotkey`'s signature of `message` (plain or `<Bytes>`-wrapped).
pub fn verify(hotkey: &str, message: &str, signature_hex: &str) -> Result<(), AuthError> {
    let key = decode_ss58(hotkey)?;
    let hex_text = signature_hex.strip_prefix("0x").unwrap_or(signature_hex);
    let bytes = hex::decode(hex_text).map_err(|_| AuthError::BadSignature)?;
    let signature = Signature::from_bytes(&bytes).map_err(|_| AuthError::BadSignature)?;
    let public = PublicKey::from_bytes(&key).map_err(|_| AuthError::BadHotkey)?;
    if public
        .verify_simple(SIGNING_CONTEXT, message.as_bytes(), &signature)
        .is_ok()
    {
        return Ok(());
    }
    let wrapped = format!("<Bytes>{message}</Bytes>");
    public
        .verify_simple(SIGNING_CONTEXT, wrapped.as_bytes(), &signature)
        .map_err(|_| AuthError::Forged)
}

/// Whether `timestamp` (Unix seconds) lies within `skew` seconds of `now`.
pub fn fresh(timestamp: i64, now: i64, skew: i64) -> Result<(), AuthError> {
    // a hostile timestamp (i64::MIN) must not overflow the difference
    if now.abs_diff(timestamp) > skew.unsigned_abs() {
        return Err(AuthError::Expired(skew));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // signed by bittensor-wallet 4.1.1's Keypair (//Alice, //Bob)
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    const MESSAGE: &str = "zipcode:assignment:current:1696089600";
    const ALICE_SIGNED: &str = "806076e46057f7110bd85f8c58160f06f2b40fd2a830a7098a902285c979e51df620140edd1e38af0535ac3f2624ccf2dd898b20c96c68034196da32edfd9a8e";
    const BOB_SIGNED_WRAPPED: &str = "b2f45526144500441d4460a2dea783c08b6010fdc777c395fa26f964f08e0c4341ac992511c9460150e69c6d2c924321d0bb2b323d218ffbcfffa26d40753184";

    #[test]
    fn python_keypair_signatures_verify() {
        assert_eq!(
            hex::encode(decode_ss58(ALICE).expect("alice")),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert_eq!(verify(ALICE, MESSAGE, ALICE_SIGNED), Ok(()));
        assert_eq!(verify(ALICE, MESSAGE, &format!("0x{ALICE_SIGNED}")), Ok(()));
        assert_eq!(
            verify(BOB, MESSAGE, BOB_SIGNED_WRAPPED),
            Ok(()),
            "<Bytes> wrapped"
        );
    }

    #[test]
    fn forgeries_are_refused_with_their_reason() {
        assert_eq!(
            verify(BOB, MESSAGE, ALICE_SIGNED),
            Err(AuthError::Forged),
            "wrong key"
        );
        assert_eq!(
            verify(ALICE, "zipcode:assignment:current:1696089601", ALICE_SIGNED),
            Err(AuthError::Forged),
            "altered message"
        );
        let mut flipped = hex::decode(ALICE_SIGNED).expect("hex");
        flipped[0] ^= 1;
        assert!(verify(ALICE, MESSAGE, &hex::encode(flipped)).is_err());
        assert_eq!(verify(ALICE, MESSAGE, "zz"), Err(AuthError::BadSignature));
        assert_eq!(
            verify(ALICE, MESSAGE, &ALICE_SIGNED[..64]),
            Err(AuthError::BadSignature)
        );
        let mut typo = ALICE.to_owned();
        typo.replace_range(5..6, "b");
        assert_eq!(
            verify(&typo, MESSAGE, ALICE_SIGNED),
            Err(AuthError::BadHotkey)
        );
        assert_eq!(decode_ss58("0OIl"), Err(AuthError::BadHotkey));
        assert_eq!(decode_ss58(&"5".repeat(100)), Err(AuthError::BadHotkey));
    }

    #[test]
    fn the_clock_window_is_symmetric() {
        assert_eq!(fresh(1_000, 1_300, 300), Ok(()));
        assert_eq!(fresh(1_600, 1_300, 300), Ok(()));
        assert_eq!(fresh(999, 1_300, 300), Err(AuthError::Expired(300)));
        assert_eq!(fresh(1_601, 1_300, 300), Err(AuthError::Expired(300)));
        assert_eq!(fresh(i64::MIN, 1_300, 300), Err(AuthError::Expired(300)));
        assert_eq!(fresh(i64::MAX, -1_300, 300), Err(AuthError::Expired(300)));
    }
}
