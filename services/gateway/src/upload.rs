//! Presigned S3 POST policies (browser-based uploads, SigV4): a miner or validator uploads with
//! an ordinary multipart POST, and S3 itself refuses a key outside the granted prefix, a body
//! outside the allowed size or a request after expiry. Signed with aws-sigv4's key derivation
//! and signature; the policy document follows the S3 POST policy format.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// What an upload may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Bucket.
    pub bucket: String,
    /// Every key must start with it.
    pub prefix: String,
    /// Smallest body, bytes.
    pub min_bytes: u64,
    /// Largest body, bytes.
    pub max_bytes: u64,
    /// Until when the policy holds.
    pub expires: DateTime<Utc>,
}

/// A signed policy: where to POST and the form fields to send with the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    /// The form's action.
    pub url: String,
    /// Form fields, `key` defaulting to `{prefix}${filename}`.
    pub fields: BTreeMap<String, String>,
}

/// Signs `grant` with `credentials` for `region` at `now`; `url` is where clients POST.
#[must_use]
pub fn presign(
    grant: &Grant,
    credentials: &Credentials,
    region: &str,
    url: String,
    now: DateTime<Utc>,
) -> Presigned {
    let date = now.format("%Y%m%d").to_string();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!(
        "{}/{date}/{region}/s3/aws4_request",
        credentials.access_key_id()
    );
    let mut conditions: Vec<Value> = vec![
        json!({"bucket": grant.bucket}),
        json!(["starts-with", "$key", grant.prefix]),
        json!({"acl": "private"}),
        json!(["content-length-range", grant.min_bytes, grant.max_bytes]),
        json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}),
        json!({"x-amz-credential": credential}),
        json!({"x-amz-date": amz_date}),
    ];
    if let Some(token) = credentials.session_token() {
        conditions.push(json!({"x-amz-security-token": token}));
    }
    let policy = json!({
        "expiration": grant.expires.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": conditions,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signing_key = aws_sigv4::sign::v4::generate_signing_key(
        credentials.secret_access_key(),
        SystemTime::from(now),
        region,
        "s3",
    );
    let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, encoded.as_bytes());
    let mut fields = BTreeMap::from([
        ("key".to_owned(), format!("{}${{filename}}", grant.prefix)),
        ("acl".to_owned(), "private".to_owned()),
        ("policy".to_owned(), encoded),
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("x-amz-signature".to_owned(), signature),
    ]);
    if let Some(token) = credentials.session_token() {
        fields.insert("x-amz-security-token".to_owned(), token.to_owned());
    }
    Presigned { url, fields }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_policy_confines_key_size_and_time_and_is_signed() {
        let now = Utc
            .with_ymd_and_hms(2025, 10, 1, 16, 0, 0)
            .single()
            .expect("valid");
        let grant = Grant {
            bucket: "resi-miner-data".to_owned(),
            prefix: "data/hotkey=5Abc/".to_owned(),
            min_bytes: 1_024,
            max_bytes: 5 * 1_024 * 1_024 * 1_024,
            expires: now + chrono::Duration::hours(24),
        };
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let presigned = presign(
            &grant,
            &credentials,
            "us-east-1",
            "http://s3".to_owned(),
            now,
        );
        let policy: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&presigned.fields["policy"])
                .expect("base64"),
        )
        .expect("json");
        assert_eq!(policy["expiration"], "2025-10-02T16:00:00.000Z");
        let conditions = policy["conditions"].as_array().expect("conditions");
        assert!(conditions.contains(&json!(["starts-with", "$key", "data/hotkey=5Abc/"])));
        assert!(conditions.contains(&json!(["content-length-range", 1_024, 5_368_709_120_u64])));
        assert!(conditions.contains(&json!({"acl": "private"})));
        assert_eq!(
            presigned.fields["x-amz-credential"],
            "AKIDEXAMPLE/20251001/us-east-1/s3/aws4_request"
        );
        assert_eq!(presigned.fields["x-amz-signature"].len(), 64);
        assert_eq!(presigned.fields["key"], "data/hotkey=5Abc/${filename}");
        assert!(!presigned.fields.contains_key("x-amz-security-token"));
        let temporary = Credentials::new("AKID", "secret", Some("token".to_owned()), None, "test");
        let with_token = presign(&grant, &temporary, "us-east-1", "http://s3".to_owned(), now);
        assert_eq!(with_token.fields["x-amz-security-token"], "token");
    }
}
