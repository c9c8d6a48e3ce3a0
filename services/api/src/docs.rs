//! The OpenAPI 3.1 document (generated from the handlers' annotations) and the human docs
//! page rendered from it: plain HTML made on the server, so `/docs` works offline and under a
//! strict Content-Security-Policy (no scripts, no CDN).

use std::fmt::Write as _;

use serde_json::Value;
use utoipa::OpenApi;

use crate::{consensus, error, listings, miners, model, ops};

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
        ops::stats,
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
        ops::Health,
        ops::ProjectionLag,
        ops::Readiness,
        ops::VersionView,
        ops::DatabaseStats,
    )),
    modifiers(&CommonResponses),
    tags(
        (name = "listings", description = "Listings, their consensus and history"),
        (name = "miners", description = "Miner trust, accuracy and the leaderboard"),
        (name = "operations", description = "Health, readiness and statistics"),
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The docs page: every path and method with its summary, parameters and responses.
pub fn html(openapi_json: &str) -> anyhow::Result<String> {
    let document: Value = serde_json::from_str(openapi_json)?;
    let info = document.get("info").unwrap_or(&Value::Null);
    let mut page = String::new();
    write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}}\
         code{{background:#f3f3f3;padding:0 .2rem}}table{{border-collapse:collapse;margin:.5rem 0}}\
         td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}\
         h2{{border-top:1px solid #ccc;padding-top:1rem}}.method{{text-transform:uppercase;font-weight:bold}}</style>\
         </head><body><h1>{title}</h1><p>{description}</p>\
         <p>Machine-readable: <a href=\"/openapi.json\"><code>/openapi.json</code></a> (OpenAPI {version}).</p>",
        title = escape(text(info, "title")),
        description = escape(text(info, "description")),
        version = escape(text(&document, "openapi")),
    )?;
    let paths = document.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let Some(methods) = item.as_object() else {
            continue;
        };
        for (method, operation) in methods {
            write!(
                page,
                "<h2><span class=\"method\">{method}</span> <code>{path}</code></h2><p><b>{summary}</b></p><p>{details}</p>",
                method = escape(method),
                path = escape(path),
                summary = escape(text(operation, "summary")),
                details = escape(text(operation, "description")),
            )?;
            let parameters = operation.get("parameters").and_then(Value::as_array);
            if let Some(parameters) = parameters.filter(|list| !list.is_empty()) {
                page.push_str("<table><tr><th>parameter</th><th>in</th><th>required</th><th>description</th></tr>");
                for parameter in parameters {
                    write!(
                        page,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(text(parameter, "name")),
                        escape(text(parameter, "in")),
                        if parameter
                            .get("required")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                        {
                            "yes"
                        } else {
                            "no"
                        },
                        escape(text(parameter, "description")),
                    )?;
                }
                page.push_str("</table>");
            }
            let responses = operation.get("responses").and_then(Value::as_object);
            page.push_str("<table><tr><th>status</th><th>meaning</th></tr>");
            for (status, response) in responses.into_iter().flatten() {
                write!(
                    page,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(status),
                    escape(text(response, "description")),
                )?;
            }
            page.push_str("</table>");
        }
    }
    page.push_str("</body></html>");
    Ok(page)
}

#[cfg(test)]
mod tests {
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
