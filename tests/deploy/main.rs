//! The deployment files against real parsers and the services' own configuration: both
//! Kubernetes overlays render and validate against the Kubernetes schemas, docker-compose.yml
//! passes a strict Compose Specification parser, every setting a manifest gives a service is
//! one the service knows (and the ones it needs are given), StatefulSet replicas match the
//! partition assignment, containers run locked down, and every alert links to its runbook entry.

use std::collections::BTreeMap;

use resi_runtime::config::load_from_env_iter;
use resi_tests::{run_python, workspace_root};
use serde_json::Value;

/// Placeholder values for settings that come from Secrets (their values are not in the repo).
fn secret_value(key: &str) -> String {
    if key.contains("POSTGRES__URL") || key.contains("POSTGRES_URL") {
        "postgres://resi:secret@db.example:5432/resi".to_owned()
    } else {
        "secret".to_owned()
    }
}

/// What a container runs: `resi SERVICE` for a service, `resi` for an operator command, read
/// from its command and arguments; in a shell line (`sh -c "resi … && resi …"`) a word counts
/// where a command starts (an argument that happens to be `resi` does not).
fn binary(command: &[String]) -> Option<&'static str> {
    for element in command {
        let words: Vec<&str> = element.split_whitespace().collect();
        for (at, word) in words.iter().enumerate() {
            let starts_command = at == 0 || ["&&", "||", ";", "exec"].contains(&words[at - 1]);
            if *word != "resi" || !starts_command {
                continue;
            }
            // the subcommand: the next word of this element, else the next element
            let next = words.get(at + 1).copied().or_else(|| {
                let index = command.iter().position(|other| other == element)?;
                command.get(index + 1).map(String::as_str)
            });
            return Some(match next {
                Some("bridge") => "resi bridge",
                Some("parser") => "resi parser",
                Some("projector") => "resi projector",
                Some("api") => "resi api",
                Some("coordinator") => "resi coordinator",
                Some("gateway") => "resi gateway",
                _ => "resi",
            });
        }
    }
    None
}

/// Loads `binary`'s configuration from `env`, as the binary would at start.
fn load(binary: &str, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let vars = env.iter().map(|(key, value)| (key.clone(), value.clone()));
    match binary {
        "resi bridge" => {
            load_from_env_iter::<resi_bridge::BridgeServiceConfig>(None, vars).map(drop)?
        }
        "resi parser" => {
            load_from_env_iter::<resi_parser::ParserServiceConfig>(None, vars).map(drop)?
        }
        "resi projector" => {
            load_from_env_iter::<resi_projector::ProjectorServiceConfig>(None, vars).map(drop)?
        }
        "resi api" => {
            let config = load_from_env_iter::<resi_api::ApiServiceConfig>(None, vars)?;
            config.api.validate()?;
            anyhow::ensure!(
                config.telemetry.metrics_listen.is_none(),
                "resi api refuses telemetry.metrics_listen (it serves /metrics itself)"
            );
        }
        "resi coordinator" => {
            let config =
                load_from_env_iter::<resi_coordinator::CoordinatorServiceConfig>(None, vars)?;
            config.coordinator.schedule.validate()?;
            config.coordinator.selection.validate()?;
            anyhow::ensure!(
                !config.coordinator.nonce_secret.is_empty(),
                "resi coordinator needs coordinator.nonce_secret"
            );
        }
        "resi gateway" => {
            let config = load_from_env_iter::<resi_gateway::GatewayServiceConfig>(None, vars)?;
            anyhow::ensure!(
                config.gateway.metagraph_file.is_some() != config.gateway.metagraph_url.is_some(),
                "resi gateway needs one of gateway.metagraph_file and gateway.metagraph_url"
            );
        }
        "resi" => load_from_env_iter::<resi_ctl::CtlConfig>(None, vars).map(drop)?,
        other => anyhow::bail!("no configuration known for {other}"),
    }
    Ok(())
}

/// Settings without which a binary would talk to its defaults (localhost) in a cluster.
fn required(binary: &str) -> &'static [&'static str] {
    match binary {
        "resi bridge" | "resi parser" => &[
            "RESI__POSTGRES__URL",
            "RESI__KAFKA__BROKERS",
            "RESI__S3__BUCKET",
        ],
        "resi projector" | "resi" => &["RESI__POSTGRES__URL", "RESI__KAFKA__BROKERS"],
        "resi gateway" => &[
            "RESI__POSTGRES__URL",
            "RESI__KAFKA__BROKERS",
            "RESI__GATEWAY__LISTEN",
        ],
        "resi coordinator" => &[
            "RESI__POSTGRES__URL",
            "RESI__KAFKA__BROKERS",
            "RESI__COORDINATOR__NONCE_SECRET",
        ],
        "resi api" => &[
            "RESI__POSTGRES__URL",
            "RESI__KAFKA__BROKERS",
            "RESI__API__LISTEN",
        ],
        _ => &[],
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// One workload container of a rendered overlay, with the environment Kubernetes would give it.
struct Container {
    name: String,
    binary: &'static str,
    env: BTreeMap<String, String>,
    spec: Value,
    pod: Value,
    replicas: Option<i64>,
}

fn containers(documents: &[Value], secret_keys: &[String]) -> anyhow::Result<Vec<Container>> {
    let config_maps: BTreeMap<&str, &Value> = documents
        .iter()
        .filter(|document| document["kind"] == "ConfigMap")
        .filter_map(|document| Some((document["metadata"]["name"].as_str()?, &document["data"])))
        .collect();
    let mut found = Vec::new();
    for document in documents {
        let kind = document["kind"].as_str().unwrap_or_default();
        if !["Deployment", "StatefulSet", "Job"].contains(&kind) {
            continue;
        }
        let pod = &document["spec"]["template"]["spec"];
        for container in pod["containers"].as_array().into_iter().flatten() {
            let command: Vec<String> = strings(&container["command"])
                .into_iter()
                .chain(strings(&container["args"]))
                .collect();
            let name = format!(
                "{kind}/{}/{}",
                document["metadata"]["name"].as_str().unwrap_or_default(),
                container["name"].as_str().unwrap_or_default()
            );
            let Some(binary) = binary(&command) else {
                anyhow::bail!("{name} runs no RESI binary: {command:?}");
            };
            let mut env = BTreeMap::new();
            for source in container["envFrom"].as_array().into_iter().flatten() {
                if let Some(map) = source["configMapRef"]["name"].as_str() {
                    let data = config_maps
                        .get(map)
                        .ok_or_else(|| anyhow::anyhow!("{name}: no ConfigMap {map}"))?;
                    for (key, value) in data.as_object().into_iter().flatten() {
                        env.insert(key.clone(), value.as_str().unwrap_or_default().to_owned());
                    }
                }
                if source["secretRef"]["name"].is_string() {
                    for key in secret_keys {
                        env.insert(key.clone(), secret_value(key));
                    }
                }
            }
            for variable in container["env"].as_array().into_iter().flatten() {
                let key = variable["name"].as_str().unwrap_or_default().to_owned();
                let value = match variable["value"].as_str() {
                    Some(value) => value.to_owned(),
                    None => secret_value(&key),
                };
                env.insert(key, value);
            }
            found.push(Container {
                name,
                binary,
                env,
                spec: container.clone(),
                pod: pod.clone(),
                replicas: document["spec"]["replicas"].as_i64(),
            });
        }
    }
    Ok(found)
}

/// The keys of the Secret the workloads read: the overlay's own, else the documented example.
fn secret_keys(documents: &[Value]) -> anyhow::Result<Vec<String>> {
    let from = |document: &Value| -> Vec<String> {
        document["stringData"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key.clone())
            .collect()
    };
    if let Some(secret) = documents
        .iter()
        .find(|document| document["kind"] == "Secret")
    {
        return Ok(from(secret));
    }
    let example: Value = serde_yaml_like(&std::fs::read_to_string(
        workspace_root().join("k8s/secret.example.yaml"),
    )?)?;
    Ok(from(&example))
}

/// The example Secret is flat `key: value` YAML under `stringData`: read its keys without a
/// YAML library.
fn serde_yaml_like(text: &str) -> anyhow::Result<Value> {
    let mut data = serde_json::Map::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("stringData:") {
            inside = true;
            continue;
        }
        if inside {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if !line.starts_with(' ') {
                break;
            }
            if let Some((key, value)) = trimmed.split_once(':') {
                data.insert(key.trim().to_owned(), Value::from(value.trim()));
            }
        }
    }
    anyhow::ensure!(
        !data.is_empty(),
        "the example Secret has no stringData keys"
    );
    Ok(serde_json::json!({ "stringData": data }))
}

fn check_overlay(overlay: &str) -> anyhow::Result<Vec<Value>> {
    let path = workspace_root().join("k8s/overlays").join(overlay);
    let rendered = run_python(
        "deploy_check.py",
        &["kustomize", path.to_str().unwrap_or_default()],
    )?;
    let errors = strings(&rendered["errors"]);
    assert!(
        errors.is_empty(),
        "{overlay} does not validate:\n{}",
        errors.join("\n")
    );
    let documents = rendered["documents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|document| document["kind"].as_str())
        .collect();
    for kind in [
        "Namespace",
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "Job",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "PrometheusRule",
    ] {
        assert!(kinds.contains(&kind), "{overlay} has a {kind}");
    }

    let keys = secret_keys(&documents)?;
    let workloads = containers(&documents, &keys)?;
    let binaries: Vec<&str> = workloads.iter().map(|container| container.binary).collect();
    for binary in [
        "resi bridge",
        "resi parser",
        "resi projector",
        "resi api",
        "resi coordinator",
        "resi gateway",
        "resi",
    ] {
        assert!(binaries.contains(&binary), "{overlay} runs {binary}");
    }
    for container in &workloads {
        // every key is known to the service (a misspelt key fails the service at start)
        if let Err(error) = load(container.binary, &container.env) {
            panic!("{overlay} {}: {error:#}", container.name);
        }
        for key in required(container.binary) {
            assert!(
                container.env.contains_key(*key),
                "{overlay} {} lacks {key}",
                container.name
            );
        }
        // partitions are split by ordinal: the StatefulSet's replicas and the assignment agree
        for section in ["PARSER", "PROJECTOR"] {
            if let Some(replicas) = container
                .env
                .get(&format!("RESI__{section}__ASSIGNMENT__REPLICAS"))
            {
                assert_eq!(
                    Some(replicas.parse::<i64>()?),
                    container.replicas,
                    "{overlay} {}",
                    container.name
                );
            }
        }
        // locked down
        let security = &container.spec["securityContext"];
        assert_eq!(
            security["readOnlyRootFilesystem"], true,
            "{overlay} {}",
            container.name
        );
        assert_eq!(
            security["allowPrivilegeEscalation"], false,
            "{overlay} {}",
            container.name
        );
        assert_eq!(
            security["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{overlay} {}",
            container.name
        );
        assert_eq!(
            container.pod["securityContext"]["runAsNonRoot"], true,
            "{overlay} {}",
            container.name
        );
        assert!(
            container.spec["resources"]["limits"]["memory"].is_string(),
            "{overlay} {} has limits",
            container.name
        );
        if container.binary != "resi" {
            assert!(
                container.spec["livenessProbe"].is_object()
                    && container.spec["readinessProbe"].is_object(),
                "{overlay} {} has probes",
                container.name
            );
        }
        if container.binary == "resi api" {
            assert_eq!(
                container.spec["readinessProbe"]["httpGet"]["path"],
                "/ready"
            );
        }
    }
    Ok(documents)
}

#[test]
fn both_overlays_render_validate_and_configure_every_service_with_keys_it_knows()
-> anyhow::Result<()> {
    let prod = check_overlay("prod")?;
    check_overlay("dev")?;

    // the production split: three parsers and three projectors
    let replicas: BTreeMap<String, i64> = prod
        .iter()
        .filter(|document| document["kind"] == "StatefulSet")
        .filter_map(|document| {
            Some((
                document["metadata"]["name"].as_str()?.to_owned(),
                document["spec"]["replicas"].as_i64()?,
            ))
        })
        .collect();
    assert_eq!(replicas.get("resi-parser"), Some(&3));
    assert_eq!(replicas.get("resi-projector"), Some(&3));

    // production's gateway reads the metagraph object the snapshot job writes, on a schedule
    let job = prod
        .iter()
        .find(|document| {
            document["kind"] == "CronJob" && document["metadata"]["name"] == "resi-metagraph"
        })
        .expect("prod has the metagraph CronJob");
    let snapshot = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    let written = strings(&snapshot["args"])
        .into_iter()
        .find(|argument| argument.starts_with("s3://"))
        .expect("the job writes to S3");
    let gateway = containers(&prod, &secret_keys(&prod)?)?
        .into_iter()
        .find(|container| container.binary == "resi gateway")
        .expect("prod runs the gateway");
    assert_eq!(
        gateway.env.get("RESI__GATEWAY__METAGRAPH_URL"),
        Some(&written)
    );
    assert!(!gateway.env.contains_key("RESI__GATEWAY__METAGRAPH_FILE"));
    assert_eq!(snapshot["securityContext"]["readOnlyRootFilesystem"], true);

    // every alert has an expression, a severity and a runbook entry that exists
    let runbook = std::fs::read_to_string(workspace_root().join("docs/runbook.md"))?;
    let rules = prod
        .iter()
        .find(|document| document["kind"] == "PrometheusRule")
        .map(|rule| rule["spec"]["groups"][0]["rules"].clone())
        .unwrap_or_default();
    let rules = rules.as_array().cloned().unwrap_or_default();
    assert!(
        rules.len() >= 6,
        "alerts for lag, dead letters, errors, parser failures, API p99 and errors"
    );
    for rule in &rules {
        let alert = rule["alert"].as_str().unwrap_or_default();
        assert!(
            rule["expr"]
                .as_str()
                .is_some_and(|expr| !expr.trim().is_empty()),
            "{alert}"
        );
        assert!(rule["labels"]["severity"].is_string(), "{alert}");
        let anchor = rule["annotations"]["runbook"]
            .as_str()
            .and_then(|link| link.split_once('#'))
            .map(|(_, anchor)| anchor.to_owned());
        let anchor = anchor.unwrap_or_default();
        assert!(
            !anchor.is_empty()
                && runbook.lines().any(|line| line.starts_with("### ")
                    && line
                        .to_lowercase()
                        .replace(' ', "-")
                        .trim_start_matches("###-")
                        == anchor),
            "{alert}: docs/runbook.md has a '### {anchor}' entry"
        );
    }

    // every RESI metric an alert or the operators' dashboard reads is one a service exports
    let dashboard = prod
        .iter()
        .find(|document| {
            document["kind"] == "ConfigMap"
                && document["metadata"]["labels"]["grafana_dashboard"] == "1"
        })
        .and_then(|map| map["data"]["grafana-dashboard.json"].as_str())
        .expect("prod ships the Grafana dashboard");
    let dashboard: Value = serde_json::from_str(dashboard)?;
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    assert!(
        panels.len() >= 6,
        "lag, throughput, dead letters, API, quality"
    );
    let expressions: Vec<String> = rules
        .iter()
        .filter_map(|rule| rule["expr"].as_str().map(str::to_owned))
        .chain(panels.iter().flat_map(|panel| {
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|target| target["expr"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        }))
        .collect();
    let exported = exported_metric_names()?;
    for expression in &expressions {
        for name in metric_names(expression) {
            assert!(
                exported.contains(&name),
                "{name} (in `{expression}`) is exported by no service"
            );
        }
    }
    Ok(())
}

/// The `resi_*` metric names in a PromQL expression, without histogram suffixes.
fn metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find("resi_") {
        let name: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[start + name.len()..];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        names.push(base.to_owned());
    }
    names
}

/// Every `"resi_…"` string literal in the services' sources: the names they export.
fn exported_metric_names() -> anyhow::Result<std::collections::BTreeSet<String>> {
    fn walk(
        dir: &std::path::Path,
        names: &mut std::collections::BTreeSet<String>,
    ) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, names)?;
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = std::fs::read_to_string(&path)?;
                for piece in text.split('"').skip(1).step_by(2) {
                    if piece.starts_with("resi_")
                        && piece.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        names.insert(piece.to_owned());
                    }
                }
            }
        }
        Ok(())
    }
    let mut names = std::collections::BTreeSet::new();
    walk(&workspace_root().join("services"), &mut names)?;
    Ok(names)
}

#[test]
fn a_misspelt_or_missing_setting_is_caught() {
    // the checks above can fail: an unknown key in a known section, and a missing requirement
    let mut env = BTreeMap::from([
        (
            "RESI__POSTGRES__URL".to_owned(),
            secret_value("RESI__POSTGRES__URL"),
        ),
        ("RESI__KAFKA__BROKERS".to_owned(), "broker:9092".to_owned()),
        ("RESI__API__LISTEN".to_owned(), "0.0.0.0:8080".to_owned()),
    ]);
    assert!(load("resi api", &env).is_ok());
    env.insert("RESI__API__LISTN".to_owned(), "0.0.0.0:8080".to_owned());
    assert!(load("resi api", &env).is_err(), "a misspelt key fails");
    env.remove("RESI__API__LISTN");
    env.insert(
        "RESI__TELEMETRY__METRICS_LISTEN".to_owned(),
        "0.0.0.0:9464".to_owned(),
    );
    assert!(
        load("resi api", &env).is_err(),
        "the API refuses a metrics listener of its own"
    );
    assert!(load("resi parser", &env).is_ok());
}

#[test]
fn compose_passes_a_strict_compose_parser_and_configures_every_service() -> anyhow::Result<()> {
    let file = workspace_root().join("docker-compose.yml");
    let parsed = run_python(
        "deploy_check.py",
        &["compose", file.to_str().unwrap_or_default()],
    )?;
    assert!(
        parsed["error"].is_null(),
        "docker-compose.yml: {}",
        parsed["error"]
    );
    let services = parsed["document"]["services"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for name in [
        "redpanda",
        "postgres",
        "minio",
        "init",
        "bridge",
        "parser",
        "projector",
        "coordinator",
        "gateway",
        "api",
        "sample-data",
    ] {
        assert!(services.contains_key(name), "compose runs {name}");
    }
    for (name, service) in &services {
        let command = strings(&service["command"]);
        let Some(binary) = binary(&command) else {
            continue;
        };
        let env: BTreeMap<String, String> = service["environment"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| {
                (
                    key.clone(),
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned),
                )
            })
            .collect();
        if let Err(error) = load(binary, &env) {
            panic!("compose {name}: {error:#}");
        }
        for key in required(binary) {
            assert!(env.contains_key(*key), "compose {name} lacks {key}");
        }
    }
    // the parser is strict: a wrong condition is refused
    let broken = run_python(
        "deploy_check.py",
        &[
            "compose-text",
            "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_sleeping\n",
        ],
    )?;
    assert!(broken["error"].is_string());
    Ok(())
}
