//! The HTTP service: routes, authentication, and the published shape of every answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use model::ForceId;
use serde_json::{Value, json};
use warehouse::{AlertKind, Dimension, StatsQuery, Warehouse};

use crate::access::{Role, TokenStore};
use crate::disclosure::{Published, Rule};
use crate::params::{self, Format, ParamError};
use crate::revisions::{self, Cell};

/// What the routes share.
pub struct ApiState {
    /// The store.
    pub warehouse: Warehouse,
    /// Accepted tokens.
    pub tokens: TokenStore,
    /// The disclosure rule.
    pub rule: Rule,
    /// Renders the Prometheus metrics (the binary's recorder).
    pub metrics: Box<dyn Fn() -> String + Send + Sync>,
    /// Whether the API's dependencies answer, and a line per dependency (`/readyz`).
    pub ready: Box<dyn Fn() -> (bool, String) + Send + Sync>,
    /// Longest a request waits for the store before it is answered 504.
    pub query_timeout: std::time::Duration,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// The OpenAPI 3 document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");
/// The dashboard served at `/`.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// Every route.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/stats", get(stats))
        .route("/v1/revisions", get(revisions))
        .route("/v1/alerts", get(alerts))
        .with_state(state)
}

/// An error answer: status and a JSON message.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError(StatusCode::BAD_REQUEST, error.to_string())
    }
}

/// Awaits a store call for at most the query timeout: a store that does not answer (a stalled
/// network, an overloaded server) gives 504 instead of holding the request and its connection.
async fn from_store<T, E: std::fmt::Display>(
    state: &ApiState,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(state.query_timeout, call).await {
        Ok(result) => result.map_err(internal),
        Err(_) => {
            tracing::warn!(
                timeout_secs = state.query_timeout.as_secs(),
                "the statistics store did not answer in time"
            );
            Err(ApiError(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the statistics store did not answer within {} s; try again shortly",
                    state.query_timeout.as_secs()
                ),
            ))
        }
    }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "request failed");
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        "the statistics store is unavailable; try again shortly".into(),
    )
}

/// The caller's role, from `Authorization: Bearer <token>`.
fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Role, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer <token>)".into(),
            )
        })?;
    let (role, name) = state.tokens.authenticate(token).ok_or_else(|| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "the token is unknown or revoked".into(),
        )
    })?;
    tracing::debug!(token_name = %name, %role, "authenticated");
    Ok(role)
}

fn observe(route: &'static str, started: Instant, status: StatusCode) {
    metrics::counter!("cyberflag_api_requests_total", "route" => route, "status" => status.as_u16().to_string())
        .increment(1);
    metrics::histogram!("cyberflag_api_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
}

async fn dashboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        DASHBOARD,
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 when ClickHouse answers with a current schema, 503 otherwise.
async fn readyz(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let (ready, report) = (state.ready)();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, report)
}

async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (state.metrics)(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The single force a cell lies in, if any: the row's own force when grouped by force, else
/// the filter's when it names one force.
fn scope(query: &StatsQuery, row: Option<&str>) -> Option<ForceId> {
    if let Some(force) = row {
        return ForceId::from_id(force).ok();
    }
    match query.forces.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The public role sees force-level and regional figures monthly or coarser.
fn check_access(role: Role, query: &StatsQuery) -> Result<(), ApiError> {
    let local = query.by.contains(&Dimension::Force)
        || query.by.contains(&Dimension::Region)
        || !query.forces.is_empty();
    let fine = query.by.contains(&Dimension::Day) || query.by.contains(&Dimension::Week);
    if role == Role::Public && local && fine {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "the public role sees force-level and regional figures by month or coarser; \
             group by month, quarter or financial_year"
                .into(),
        ));
    }
    Ok(())
}

fn published_json(p: &Published) -> Value {
    json!({ "count": p.count, "suppressed": p.suppressed, "rounded": p.rounded })
}

fn csv_cell(text: &str) -> String {
    // Values are ids, dates and numbers; quote defensively anyway, and neutralise formulas.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

async fn stats(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = answer_stats(&state, &headers, &params).await;
    let status = result.as_ref().map_or_else(|e| e.0, |_| StatusCode::OK);
    observe("stats", started, status);
    result
}

async fn answer_stats(
    state: &ApiState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let role = authenticate(state, headers)?;
    let request = params::parse(params, true)?;
    let query = &request.query;
    check_access(role, query)?;
    let rows = from_store(state, state.warehouse.stats(query)).await?;
    let force_column = query.by.iter().position(|d| *d == Dimension::Force);
    let total_exact: u64 = rows.iter().map(|r| r.count).sum();
    let published: Vec<(Vec<String>, Published)> = rows
        .into_iter()
        .map(|row| {
            let cell_force = force_column
                .and_then(|i| row.values.get(i))
                .map(String::as_str);
            let p = state
                .rule
                .publish(role, scope(query, cell_force), row.count);
            (row.values, p)
        })
        .collect();
    let total = state.rule.publish(role, scope(query, None), total_exact);
    let names: Vec<&str> = query.by.iter().map(|d| d.name()).collect();
    match request.format {
        Format::Json => {
            let rows: Vec<Value> = published
                .iter()
                .map(|(values, p)| {
                    let mut object = serde_json::Map::new();
                    for (name, value) in names.iter().zip(values) {
                        object.insert((*name).to_owned(), json!(value));
                    }
                    object.insert("count".into(), json!(p.count));
                    object.insert("suppressed".into(), json!(p.suppressed));
                    object.insert("rounded".into(), json!(p.rounded));
                    Value::Object(object)
                })
                .collect();
            let body = json!({
                "by": names,
                "as_at": query.as_at.map(|d| d.to_string()),
                "role": role.to_string(),
                "total": published_json(&total),
                "rows": rows,
            });
            Ok(Json(body).into_response())
        }
        Format::Csv => {
            let mut out = String::new();
            let mut header_cells: Vec<&str> = names.clone();
            header_cells.extend(["count", "suppressed", "rounded"]);
            out.push_str(&header_cells.join(","));
            out.push('\n');
            for (values, p) in &published {
                let mut cells: Vec<String> = values.iter().map(|v| csv_cell(v)).collect();
                cells.push(p.count.map(|c| c.to_string()).unwrap_or_default());
                cells.push(p.suppressed.to_string());
                cells.push(p.rounded.to_string());
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"cyberflag-stats.csv\"",
                    ),
                ],
                out,
            )
                .into_response())
        }
    }
}

async fn revisions(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = answer_revisions(&state, &headers, &params).await;
    let status = result.as_ref().map_or_else(|e| e.0, |_| StatusCode::OK);
    observe("revisions", started, status);
    result
}

async fn answer_revisions(
    state: &ApiState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let role = authenticate(state, headers)?;
    let request = params::parse(params, false)?;
    let query = &request.query;
    // Revisions come by day: below national level that is finer than the public may see.
    if role == Role::Public && !query.forces.is_empty() {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "the public role sees force-level figures by month or coarser; revisions come by day"
                .into(),
        ));
    }
    let versions = from_store(state, state.warehouse.cell_versions(query)).await?;
    if versions.len() > warehouse::MAX_CELL_VERSIONS {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the cell is too large to explain version by version; narrow it with from, to, \
             force or offence_group"
                .into(),
        ));
    }
    let cell = Cell {
        from: query.from,
        to: query.to,
        forces: query.forces.clone(),
        offence_groups: query.offence_groups.clone(),
        cyber: query.cyber,
    };
    let cell_scope = scope(query, None);
    let publish = |n: u64| published_json(&state.rule.publish(role, cell_scope, n));
    let steps: Vec<Value> = revisions::history(&versions, &cell)
        .into_iter()
        .map(|s| {
            json!({
                "date": s.date,
                "count": publish(s.count),
                "new": publish(s.new),
                "reclassified_in": publish(s.reclassified_in),
                "reclassified_out": publish(s.reclassified_out),
                "cancelled": publish(s.cancelled),
                "transferred": publish(s.transferred),
            })
        })
        .collect();
    Ok(Json(json!({ "role": role.to_string(), "steps": steps })).into_response())
}

async fn alerts(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = answer_alerts(&state, &headers).await;
    let status = result.as_ref().map_or_else(|e| e.0, |_| StatusCode::OK);
    observe("alerts", started, status);
    result
}

async fn answer_alerts(state: &ApiState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let role = authenticate(state, headers)?;
    let own = match role {
        Role::Public => {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "alerts are for national and force roles".into(),
            ));
        }
        Role::National => None,
        Role::Force(force) => Some(force),
    };
    let open = from_store(state, state.warehouse.recent_alerts(chrono::Utc::now())).await?;
    let rows: Vec<Value> = open
        .iter()
        .filter(|a| own.is_none_or(|f| a.force() == f.as_str() || a.force() == "national"))
        .map(|a| {
            let n = a.numbers();
            let exact = own.is_none() || own.is_some_and(|f| a.force() == f.as_str());
            let observed = if exact {
                Published::exact(n.observed)
            } else {
                state.rule.control(n.observed)
            };
            json!({
                "alert_id": a.alert_id(),
                "kind": match a.kind() { AlertKind::Rise => "rise", AlertKind::DataQuality => "data-quality" },
                "force": a.force(),
                "offence_group": a.offence_group(),
                "method": a.method(),
                "opened_week": a.opened_week().to_string(),
                "week": n.week.to_string(),
                "observed": published_json(&observed),
                "expected": if exact { n.expected } else { None },
                "p_value": n.p_value,
                "rank": n.rank,
            })
        })
        .collect();
    Ok(Json(json!({ "role": role.to_string(), "alerts": rows })).into_response())
}
