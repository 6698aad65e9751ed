//! The embedded registry over HTTP: Confluent's endpoints, ids, versions,
//! compatibility (409 when incompatible) and error codes.

use std::net::SocketAddr;

use flowharness::registry::{EmbeddedRegistry, RegistryClient, RegistryConfig};
use serde_json::{Value, json};

fn start() -> (EmbeddedRegistry, reqwest::blocking::Client) {
    let registry = EmbeddedRegistry::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    (registry, reqwest::blocking::Client::new())
}

fn call(http: &reqwest::blocking::Client, method: &str, url: String, body: Option<Value>) -> (u16, Value, String) {
    let mut r = http.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        r = r
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .body(b.to_string());
    }
    let response = r.send().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.json().unwrap_or(Value::Null);
    (status, body, content_type)
}

fn user(fields: Value) -> String {
    json!({"type": "record", "name": "User", "namespace": "com.acme", "fields": fields}).to_string()
}

#[test]
fn registers_looks_up_and_serves_schemas_like_confluent() {
    let (registry, http) = start();
    let base = registry.url().to_string();
    let v1 = user(json!([{"name": "id", "type": "string"}]));
    let (status, body, content_type) = call(
        &http,
        "POST",
        format!("{base}/subjects/users-value/versions"),
        Some(json!({"schema": v1})),
    );
    assert_eq!((status, &body), (200, &json!({"id": 1})));
    assert_eq!(content_type, "application/vnd.schemaregistry.v1+json");
    // The same schema under a second subject keeps its id.
    let (_, body, _) = call(
        &http,
        "POST",
        format!("{base}/subjects/other-value/versions"),
        Some(json!({"schema": v1})),
    );
    assert_eq!(body, json!({"id": 1}));
    // Registering again returns the same id and adds no version.
    call(
        &http,
        "POST",
        format!("{base}/subjects/users-value/versions"),
        Some(json!({"schema": v1})),
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/subjects/users-value/versions"), None).1,
        json!([1])
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/subjects"), None).1,
        json!(["other-value", "users-value"])
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/schemas/ids/1"), None).1,
        json!({"schema": v1})
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/schemas/ids/1/schema"), None).1,
        serde_json::from_str::<Value>(&v1).unwrap()
    );
    let latest = call(
        &http,
        "GET",
        format!("{base}/subjects/users-value/versions/latest"),
        None,
    )
    .1;
    assert_eq!(
        latest,
        json!({"subject": "users-value", "version": 1, "id": 1, "schema": v1})
    );
    let looked_up = call(
        &http,
        "POST",
        format!("{base}/subjects/users-value"),
        Some(json!({"schema": v1})),
    )
    .1;
    assert_eq!(looked_up["version"], 1);

    // A compatible second version gets a new id; an incompatible one 409.
    let v2 = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int", "default": 0}]));
    assert_eq!(
        call(
            &http,
            "POST",
            format!("{base}/subjects/users-value/versions"),
            Some(json!({"schema": v2}))
        )
        .1,
        json!({"id": 2})
    );
    let bad = user(json!([{"name": "id", "type": "long"}]));
    let check = call(
        &http,
        "POST",
        format!("{base}/compatibility/subjects/users-value/versions/latest?verbose=true"),
        Some(json!({"schema": bad})),
    )
    .1;
    assert_eq!(check["is_compatible"], false);
    assert!(
        check["messages"][0].as_str().unwrap().contains("TYPE_MISMATCH"),
        "{check}"
    );
    let (status, body, _) = call(
        &http,
        "POST",
        format!("{base}/subjects/users-value/versions"),
        Some(json!({"schema": bad})),
    );
    assert_eq!(status, 409);
    assert_eq!(body["error_code"], 409);
    // With the subject's level at NONE it is accepted.
    let (_, body, _) = call(
        &http,
        "PUT",
        format!("{base}/config/users-value"),
        Some(json!({"compatibility": "NONE"})),
    );
    assert_eq!(body, json!({"compatibility": "NONE"}));
    assert_eq!(
        call(&http, "GET", format!("{base}/config/users-value"), None).1,
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(
        call(
            &http,
            "POST",
            format!("{base}/subjects/users-value/versions"),
            Some(json!({"schema": bad}))
        )
        .1,
        json!({"id": 3})
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/config"), None).1,
        json!({"compatibilityLevel": "BACKWARD"})
    );
    call(
        &http,
        "PUT",
        format!("{base}/config"),
        Some(json!({"compatibility": "FULL"})),
    );
    assert_eq!(
        call(&http, "GET", format!("{base}/config"), None).1,
        json!({"compatibilityLevel": "FULL"})
    );
}

#[test]
fn errors_carry_confluent_codes() {
    let (registry, http) = start();
    let base = registry.url().to_string();
    let code = |r: (u16, Value, String)| (r.0, r.1["error_code"].as_u64().unwrap_or(0));
    assert_eq!(
        code(call(&http, "GET", format!("{base}/subjects/nope/versions"), None)),
        (404, 40401)
    );
    assert_eq!(
        code(call(&http, "GET", format!("{base}/schemas/ids/99"), None)),
        (404, 40403)
    );
    call(
        &http,
        "POST",
        format!("{base}/subjects/s/versions"),
        Some(json!({"schema": "\"string\""})),
    );
    assert_eq!(
        code(call(&http, "GET", format!("{base}/subjects/s/versions/7"), None)),
        (404, 40402)
    );
    assert_eq!(
        code(call(&http, "GET", format!("{base}/subjects/s/versions/zero"), None)),
        (422, 42202)
    );
    assert_eq!(
        code(call(
            &http,
            "POST",
            format!("{base}/subjects/s/versions"),
            Some(json!({"schema": "{\"type\": \"wat\"}"}))
        )),
        (422, 42201)
    );
    assert_eq!(code(call(&http, "GET", format!("{base}/config/s"), None)), (404, 40408));
    assert_eq!(
        code(call(
            &http,
            "PUT",
            format!("{base}/config"),
            Some(json!({"compatibility": "SIDEWAYS"}))
        )),
        (422, 42203)
    );
    // JSON Schemas are held too, with their type.
    let (status, body, _) = call(
        &http,
        "POST",
        format!("{base}/subjects/j/versions"),
        Some(json!({"schema": "{\"type\": \"object\"}", "schemaType": "JSON"})),
    );
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_u64().unwrap();
    assert_eq!(
        call(&http, "GET", format!("{base}/schemas/ids/{id}"), None).1["schemaType"],
        "JSON"
    );
}

#[test]
fn request_bodies_over_the_bound_are_refused() {
    let (registry, http) = start();
    let huge = "x".repeat(flowharness::registry::server::MAX_BODY + 10);
    let response = http
        .post(format!("{}/subjects/s/versions", registry.url()))
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
}

#[test]
fn the_client_caches_ids_and_schemas_and_names_the_registry_in_errors() {
    let (registry, _) = start();
    let client = RegistryClient::new(RegistryConfig::new(registry.url())).unwrap();
    let schema =
        flowharness::schema::Schema::from_value(&json!({"type": "record", "name": "R", "fields": []})).unwrap();
    let id = client.register("r-value", &schema).unwrap();
    assert_eq!(client.register("r-value", &schema).unwrap(), id);
    assert_eq!(client.schema(id).unwrap().json(), schema.json());
    let err = client.schema(99).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "schema registry {}: GET /schemas/ids/99: 404 (error 40403): Schema not found",
            registry.url()
        )
    );
}

#[test]
fn an_unreachable_registry_is_a_clear_error_within_the_bound() {
    let mut config = RegistryConfig::new("http://user:secret@127.0.0.1:1");
    config.timeout = std::time::Duration::from_millis(500);
    config.retries = 2;
    let client = RegistryClient::new(config).unwrap();
    let started = std::time::Instant::now();
    let err = client.schema(1).unwrap_err().to_string();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        err.starts_with("schema registry http://***@127.0.0.1:1: GET /schemas/ids/1: "),
        "{err}"
    );
    assert!(err.ends_with("(gave up after 3 attempts)"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn schema_references_resolve_on_register_and_on_fetch() {
    let (registry, http) = start();
    let base = registry.url().to_string();
    let metadata =
        json!({"type": "record", "name": "Meta", "namespace": "com.acme", "fields": [{"name": "at", "type": "long"}]})
            .to_string();
    assert_eq!(
        call(
            &http,
            "POST",
            format!("{base}/subjects/meta/versions"),
            Some(json!({"schema": metadata}))
        )
        .1,
        json!({"id": 1})
    );
    let event = json!({"type": "record", "name": "Event", "namespace": "com.acme", "fields": [{"name": "meta", "type": "com.acme.Meta"}]}).to_string();
    let refs = json!([{"name": "com.acme.Meta", "subject": "meta", "version": 1}]);
    let (status, body, _) = call(
        &http,
        "POST",
        format!("{base}/subjects/events-value/versions"),
        Some(json!({"schema": event, "references": refs})),
    );
    assert_eq!((status, &body), (200, &json!({"id": 2})));
    assert_eq!(
        call(&http, "GET", format!("{base}/schemas/ids/2"), None).1["references"],
        refs
    );
    // Our client resolves the reference when it fetches the schema by id.
    let client = RegistryClient::new(RegistryConfig::new(registry.url())).unwrap();
    let schema = client.schema(2).unwrap();
    let value = json!({"meta": {"at": 5}});
    assert!(schema.validate(&value).is_empty());
    // Without the reference the schema does not parse: 42201.
    let (status, body, _) = call(
        &http,
        "POST",
        format!("{base}/subjects/broken/versions"),
        Some(json!({"schema": event})),
    );
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)));
}

#[test]
fn protobuf_versions_are_checked_with_confluents_rules() {
    let (registry, http) = start();
    let base = registry.url().to_string();
    let v1 = "syntax = \"proto3\";\npackage shop;\nmessage Payment {\n  string order_id = 1;\n  oneof method {\n    string card = 2;\n    string iban = 3;\n  }\n}\n";
    // A new member in the oneof and a new field: BACKWARD compatible.
    let v2 = v1.replace("string iban = 3;", "string iban = 3;\n    string wallet = 4;");
    // The wallet member removed again: a consumer switching on the oneof loses it.
    let v3 = v1.replace("string order_id = 1;", "string order_id = 1;\n  int64 amount = 5;");
    let post = |path: &str, schema: &str| {
        call(
            &http,
            "POST",
            format!("{base}{path}"),
            Some(json!({"schema": schema, "schemaType": "PROTOBUF"})),
        )
    };
    assert_eq!(post("/subjects/payments-value/versions", v1).0, 200);
    let (status, body, _) = post(
        "/compatibility/subjects/payments-value/versions/latest?verbose=true",
        &v2,
    );
    assert_eq!((status, &body["is_compatible"]), (200, &json!(true)), "{body}");
    assert_eq!(post("/subjects/payments-value/versions", &v2).0, 200);
    let (status, body, _) = post(
        "/compatibility/subjects/payments-value/versions/latest?verbose=true",
        &v3,
    );
    assert_eq!((status, &body["is_compatible"]), (200, &json!(false)), "{body}");
    assert!(
        body["messages"]
            .to_string()
            .contains("Payment.wallet: ONEOF_FIELD_REMOVED"),
        "{body}"
    );
    let (status, body, _) = post("/subjects/payments-value/versions", &v3);
    assert_eq!((status, &body["error_code"]), (409, &json!(409)), "{body}");
    // Under NONE the same version registers.
    call(
        &http,
        "PUT",
        format!("{base}/config/payments-value"),
        Some(json!({"compatibility": "NONE"})),
    );
    assert_eq!(post("/subjects/payments-value/versions", &v3).0, 200);
}
