//! The gateway's OpenAPI 3.1 document, generated from the handlers' annotations and the
//! answer types of [`crate::model`], and its docs page.

use utoipa::OpenApi;

use crate::{model, routes};

/// The gateway's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "RESI gateway for miners and validators",
        description = "Epoch assignments, status reports and S3 upload policies for the network's miners and validators (seeds 003 and 004). Signed requests carry `hotkey` (SS58), `signature` (hex sr25519 over the commitment the endpoint names, as `Keypair.sign` of bittensor-wallet or substrate-interface makes it) and `timestamp` (Unix seconds, within 5 minutes of the server's clock); each signature is accepted once. Refusals are `{\"success\": false, \"error\", \"detail\"}`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::healthcheck,
        routes::current,
        routes::epoch,
        routes::stats,
        routes::status,
        routes::folder_access,
        routes::validator_upload,
    ),
    components(schemas(
        model::ErrorBody,
        model::ZipcodeAssignment,
        model::EpochMetadata,
        model::EpochAssignment,
        model::MetagraphSummary,
        model::Health,
        model::EpochSummary,
        model::Timing,
        model::EpochStatus,
        model::Stats,
        model::StructureInfo,
        model::FolderAccessGranted,
        model::ValidatorUploadGranted,
        model::StatusAccepted,
        routes::FolderAccess,
        routes::ValidatorUpload,
        routes::StatusReport,
        routes::ZipcodeReport,
    )),
    tags(
        (name = "miners", description = "Assignments, status reports and upload folders"),
        (name = "validators", description = "Past epochs with their honeypots, and results uploads"),
        (name = "operations", description = "Health"),
    )
)]
pub struct GatewayDoc;

/// The document as JSON.
pub fn openapi_json() -> anyhow::Result<String> {
    Ok(GatewayDoc::openapi().to_pretty_json()?)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_document_describes_every_route_and_renders() {
        let json = openapi_json().expect("document");
        let document: Value = serde_json::from_str(&json).expect("json");
        let paths = document["paths"].as_object().expect("paths");
        for (path, method) in [
            ("/healthcheck", "get"),
            ("/api/v1/zipcode-assignments/current", "get"),
            ("/api/v1/zipcode-assignments/epoch/{epoch_id}", "get"),
            ("/api/v1/zipcode-assignments/stats", "get"),
            ("/api/v1/zipcode-assignments/status", "post"),
            ("/get-folder-access", "post"),
            ("/api/v1/s3-access/validator-upload", "post"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}");
        }
        assert_eq!(paths.len(), 7);
        let signed = &paths["/api/v1/zipcode-assignments/current"]["get"]["parameters"];
        let names: Vec<&str> = signed
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        assert_eq!(names, ["hotkey", "signature", "timestamp"]);
        for parameter in signed.as_array().expect("parameters") {
            assert_eq!(parameter["in"], "query", "{parameter}");
            assert_eq!(parameter["required"], true, "{parameter}");
        }
        let schemas = &document["components"]["schemas"];
        assert!(schemas["EpochAssignment"]["properties"]["submissionDeadline"].is_object());
        assert!(schemas["StatusReport"]["properties"]["zipcodesCompleted"].is_object());
        let page = resi_runtime::docs::html(&json).expect("page");
        assert!(page.contains("/get-folder-access"), "{page}");
    }
}
