//! Content-derived identifiers.
//!
//! An id is the blake3 hash of a domain tag and the identifying fields, each length-prefixed so
//! that no two different field lists can produce the same input bytes. The same upload or row
//! therefore always gets the same id, whichever instance sees it and however often.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Feeds a domain tag and length-prefixed parts into blake3.
#[derive(Debug)]
pub struct IdHasher {
    hasher: blake3::Hasher,
}

impl IdHasher {
    /// Starts a hash in the given domain (for example `"resi.upload.v1"`).
    #[must_use]
    pub fn new(domain: &str) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(domain.len() as u64).to_le_bytes());
        hasher.update(domain.as_bytes());
        Self { hasher }
    }

    /// Adds one byte-string part.
    #[must_use]
    pub fn bytes(mut self, part: &[u8]) -> Self {
        self.hasher.update(&(part.len() as u64).to_le_bytes());
        self.hasher.update(part);
        self
    }

    /// Adds one text part.
    #[must_use]
    pub fn str(self, part: &str) -> Self {
        self.bytes(part.as_bytes())
    }

    /// Adds one integer part.
    #[must_use]
    pub fn u64(self, part: u64) -> Self {
        self.bytes(&part.to_le_bytes())
    }

    /// The 32-byte digest.
    #[must_use]
    pub fn finish(self) -> [u8; 32] {
        *self.hasher.finalize().as_bytes()
    }
}

macro_rules! hash_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Lower-case hex, 64 characters.
            #[must_use]
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// The raw digest.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = hex::FromHexError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let mut digest = [0_u8; 32];
                hex::decode_to_slice(text, &mut digest)?;
                Ok(Self(digest))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_newtype!(
    /// The id of an event: blake3 of its identifying content. Two deliveries of the same fact
    /// carry the same id.
    EventId
);

hash_newtype!(
    /// blake3 of a canonical listing's fields: equal hashes mean two miners reported exactly
    /// the same values.
    ContentHash
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefix_separates_parts() {
        let joined = IdHasher::new("d").str("ab").str("c").finish();
        let split_differently = IdHasher::new("d").str("a").str("bc").finish();
        assert_ne!(joined, split_differently);
    }

    #[test]
    fn domain_separates_ids() {
        assert_ne!(
            IdHasher::new("a").str("x").finish(),
            IdHasher::new("b").str("x").finish()
        );
    }

    #[test]
    fn hex_round_trip() {
        let id = EventId(IdHasher::new("t").finish());
        assert_eq!(id.to_hex().parse::<EventId>().expect("parse"), id);
        assert!("zz".parse::<EventId>().is_err());
    }
}
