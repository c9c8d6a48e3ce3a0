//! The OpenAPI 3.1 document (generated from the handlers' annotations) and the human docs
//! page rendered from it: plain HTML made on the server, so `/docs` works offline and under a
//! strict Content-Security-Policy (no scripts, no CDN).

use utoipa::OpenApi;

use crate::{
    anomalies, consensus, epochs, error, listings, miners, model, open_data, ops, quality, tiles,
    validation,
};

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "RESI unified real-estate database",
        description = "Read-only API over the attested listings, their per-field consensus across miners, and miner trust. Money is whole dollars as integers, ids are strings, timestamps are RFC 3339. Errors are `{\"error\": {\"code\", \"message\"}}`. Anonymous clients get 100 requests per 15 minutes per IP (configurable); an API key (`x-api-key` header) gets its tier's quota.",
        license(name = "Apache-2.0"),
    ),
    paths(
        ops::health,
        ops::ready,
        listings::by_zip,
        listings::by_bbox,
        listings::detail,
        consensus::consensus,
        consensus::history,
        miners::stats,
        miners::leaderboard,
        epochs::miner,
        epochs::list,
        epochs::detail,
        epochs::scores,
        epochs::rankings,
        epochs::weights,
        validation::validation,
        validation::spot_checks,
        ops::stats,
        open_data::list,
        quality::quality,
        tiles::tile,
    ),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        model::ListingValues,
        model::ListingSummary,
        model::AttestationBrief,
        model::Pagination,
        model::ListingPage,
        model::ConsensusInfo,
        model::AttestationView,
        model::ListingDetail,
        consensus::ValueSupport,
        consensus::FieldConsensus,
        consensus::ListingConsensus,
        consensus::HistoryReport,
        consensus::ValuePeriod,
        consensus::ListingHistory,
        miners::MinerStats,
        miners::MinerRank,
        miners::Leaderboard,
        epochs::EpochSummary,
        epochs::EpochList,
        epochs::AssignedZipcode,
        epochs::EpochDetail,
        epochs::ScoreComponents,
        epochs::MinerEpochScore,
        epochs::EpochScores,
        epochs::ZipcodeRanking,
        epochs::Rankings,
        epochs::Weights,
        epochs::MinerEpoch,
        epochs::MinerEpochs,
        validation::ValidatorResultsView,
        validation::MinerVerdictView,
        validation::EpochValidation,
        validation::SpotCheck,
        validation::SpotChecks,
        ops::Health,
        ops::ProjectionLag,
        ops::Readiness,
        ops::VersionView,
        ops::DatabaseStats,
        open_data::OpenDataFile,
        open_data::OpenDataSnapshot,
        open_data::OpenDataList,
        quality::Freshness,
        quality::Agreement,
        quality::ZipQuality,
        quality::StateQuality,
        quality::Location,
        quality::Quality,
        anomalies::MinerSignals,
        anomalies::MinerAnomalies,
    )),
    modifiers(&CommonResponses),
    tags(
        (name = "listings", description = "Listings, their consensus and history"),
        (name = "miners", description = "Miner trust, accuracy, the leaderboard and each miner's epochs"),
        (name = "epochs", description = "Zipcode epochs, their scores, per-zipcode rankings, weights and validators' verdicts"),
        (name = "operations", description = "Health, readiness, statistics and data quality"),
        (name = "maps", description = "Vector tiles of the consensus listings"),
    )
)]
pub struct ApiDoc;

/// The answers every route can give, whatever its handler: 414 (the URI limit) and 503 (the
/// request timeout) everywhere; 401 (a wrong API key), 404 (a consensus version that does not
/// exist) and 429 (a quota) on the `/api/…` routes.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in &mut openapi.paths.paths {
            let limited = path.starts_with("/api/");
            for operation in [&mut item.get, &mut item.head].into_iter().flatten() {
                bound_query_strings(operation);
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description));
                };
                add("414", "The URI is longer than api.max_uri_bytes");
                add("503", "Database unavailable, or the request timed out");
                if limited {
                    add("401", "The API key is unknown or revoked");
                    add("404", "No such resource or consensus version");
                    add("429", "Over the client's quota; see Retry-After");
                }
            }
        }
    }
}

/// Declares the server's limit on every query value (`params::MAX_VALUE_CHARS`) on the string
/// parameters that have no tighter one, so a generated client never sends what is refused.
fn bound_query_strings(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{RefOr, Schema, Type, path::ParameterIn, schema::SchemaType};
    for parameter in operation.parameters.iter_mut().flatten() {
        if !matches!(parameter.parameter_in, ParameterIn::Query) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema {
            let text = match &object.schema_type {
                SchemaType::Type(kind) => *kind == Type::String,
                SchemaType::Array(kinds) => kinds.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if text && object.max_length.is_none() {
                object.max_length = Some(crate::params::MAX_VALUE_CHARS);
            }
        }
    }
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> anyhow::Result<String> {
    Ok(ApiDoc::openapi().to_pretty_json()?)
}

/// The docs page rendered from the document.
pub fn html(openapi_json: &str) -> anyhow::Result<String> {
    resi_runtime::docs::html(openapi_json)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn every_query_string_is_bounded_by_what_the_server_accepts() {
        let document: Value =
            serde_json::from_str(&openapi_json().expect("document")).expect("json");
        let mut strings = 0;
        for item in document["paths"].as_object().expect("paths").values() {
            for parameter in item["get"]["parameters"].as_array().into_iter().flatten() {
                let schema = &parameter["schema"];
                let text = schema["type"] == "string"
                    || schema["type"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "string"));
                if parameter["in"] == "query" && text {
                    strings += 1;
                    let bound = schema["maxLength"].as_u64().expect("maxLength");
                    assert!(
                        bound <= crate::params::MAX_VALUE_CHARS as u64,
                        "{parameter}"
                    );
                }
            }
        }
        assert!(strings >= 5, "{strings} query strings");
    }
}
