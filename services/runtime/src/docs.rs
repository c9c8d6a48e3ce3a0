//! The human docs page of a service's OpenAPI document: plain HTML made on the server, so
//! `/docs` works offline and under a strict Content-Security-Policy (no scripts, no CDN).

use std::fmt::Write as _;

use serde_json::Value;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The docs page of `openapi_json`: every path and method with its summary, parameters and responses.
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
