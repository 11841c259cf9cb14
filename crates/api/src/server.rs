//! The HTTP service: routes, authentication, budgets, and the published shape of every answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use warehouse::{AlertKind, StatsQuery, Warehouse};

use crate::access::{Denied, Role, TokenStore, Viewer};
use crate::budget::Budget;
use crate::disclosure::{DisclosureKey, Published, Rule};
use crate::grid::{self, BaseCell, View};
use crate::params::{self, Format, ParamError};
use crate::revisions::{self, Cell};

/// Most stored versions `/v1/revisions` reads for a viewer without exact scope (a larger cell
/// is refused: narrow it). Exact viewers may read up to [`warehouse::MAX_CELL_VERSIONS`].
pub const CONTROLLED_REVISION_VERSIONS: usize = 10_000;

/// What the routes share.
pub struct ApiState {
    /// The store.
    pub warehouse: Warehouse,
    /// Accepted tokens (and the disclosure key).
    pub tokens: TokenStore,
    /// The disclosure rule.
    pub rule: Rule,
    /// Each token's query budget.
    pub budget: Budget,
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

/// An error answer: status and a JSON message, with the disclosure rule that refused it or
/// the seconds to wait before retrying.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    rule: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            rule: None,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(rule) = self.rule {
            body["rule"] = json!(rule);
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error.to_string())
    }
}

impl From<grid::Refusal> for ApiError {
    fn from(refusal: grid::Refusal) -> Self {
        ApiError {
            rule: Some(refusal.rule),
            ..ApiError::new(StatusCode::FORBIDDEN, refusal.to_string())
        }
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
            Err(ApiError::new(
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
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the statistics store is unavailable; try again shortly",
    )
}

/// The caller, from `Authorization: Bearer <token>`, charged one request of its budget.
fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer <token>)",
            )
        })?;
    let viewer = state
        .tokens
        .authenticate(token)
        .map_err(|denied| match denied {
            Denied::Unknown => ApiError::new(StatusCode::UNAUTHORIZED, denied.to_string()),
            Denied::FileUnusable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, denied.to_string())
            }
        })?;
    tracing::debug!(token_name = %viewer.name, role = %viewer.role, "authenticated");
    if let Err(wait) = state.budget.charge(&viewer.digest, Instant::now()) {
        let kind = match viewer.role {
            Role::National => "national",
            Role::Force(_) => "force",
            Role::Public => "public",
        };
        metrics::counter!("cyberflag_api_rate_limited_total", "role" => kind).increment(1);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::debug!(token_name = %viewer.name, retry_after = seconds, "query budget spent");
        return Err(ApiError {
            retry_after: Some(seconds.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this token's query budget is spent (api.requests_per_minute, bursts of \
                     api.request_burst); retry after {} s",
                    seconds.max(1)
                ),
            )
        });
    }
    Ok(viewer)
}

/// The disclosure key of a controlled viewer (the token file always has one for them).
fn key_of(viewer: &Viewer) -> Result<DisclosureKey, ApiError> {
    viewer.key.clone().ok_or_else(|| {
        tracing::error!("no disclosure key for a controlled viewer");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "disclosure control is not configured; try again later",
        )
    })
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

fn published_json(p: &Published) -> Value {
    json!({
        "count": p.count,
        "suppressed": p.suppressed,
        "perturbed": p.perturbed,
        "low": p.low,
        "high": p.high,
    })
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
    let status = result
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::OK);
    observe("stats", started, status);
    result
}

/// The rows and total of a statistics question as `viewer` may see them.
async fn publish_stats(
    state: &ApiState,
    viewer: &Viewer,
    query: &StatsQuery,
) -> Result<(Vec<(Vec<String>, Published)>, Published, &'static str), ApiError> {
    match grid::view(viewer.role, query) {
        View::Exact => {
            let rows = from_store(state, state.warehouse.stats(query)).await?;
            let total = rows.iter().map(|r| r.count).sum();
            let rows = rows
                .into_iter()
                .map(|row| (row.values, Published::exact(row.count)))
                .collect();
            Ok((rows, Published::exact(total), "exact"))
        }
        View::Controlled { own } => {
            grid::check(query)?;
            let key = key_of(viewer)?;
            let base = from_store(state, state.warehouse.stats(&grid::base_query(query))).await?;
            let cells: Vec<BaseCell> = base.iter().filter_map(BaseCell::from_row).collect();
            let table = grid::tabulate(&state.rule, &key, own, &query.by, &cells);
            let rows = table
                .rows
                .into_iter()
                .map(|(values, figure)| (values, figure.publish(&state.rule)))
                .collect();
            Ok((rows, table.total.publish(&state.rule), "cell-key"))
        }
    }
}

async fn answer_stats(
    state: &ApiState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let viewer = authenticate(state, headers)?;
    let request = params::parse(params, true)?;
    let query = &request.query;
    let (published, total, method) = publish_stats(state, &viewer, query).await?;
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
                    if let Value::Object(figure) = published_json(p) {
                        object.extend(figure);
                    }
                    Value::Object(object)
                })
                .collect();
            let body = json!({
                "by": names,
                "as_at": query.as_at.map(|d| d.to_string()),
                "role": viewer.role.to_string(),
                "method": method,
                "additive": true,
                "total": published_json(&total),
                "rows": rows,
            });
            Ok(Json(body).into_response())
        }
        Format::Csv => {
            let mut out = String::new();
            let mut header_cells: Vec<&str> = names.clone();
            header_cells.extend(["count", "suppressed", "perturbed", "low", "high"]);
            out.push_str(&header_cells.join(","));
            out.push('\n');
            for (values, p) in &published {
                let mut cells: Vec<String> = values.iter().map(|v| csv_cell(v)).collect();
                cells.push(p.count.map(|c| c.to_string()).unwrap_or_default());
                cells.push(p.suppressed.to_string());
                cells.push(p.perturbed.to_string());
                cells.push(p.low.to_string());
                cells.push(p.high.to_string());
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
    let status = result
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::OK);
    observe("revisions", started, status);
    result
}

async fn answer_revisions(
    state: &ApiState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let viewer = authenticate(state, headers)?;
    let request = params::parse(params, false)?;
    let query = &request.query;
    let view = grid::view(viewer.role, query);
    let limit = match view {
        View::Exact => warehouse::MAX_CELL_VERSIONS,
        View::Controlled { .. } => {
            grid::check(query)?;
            CONTROLLED_REVISION_VERSIONS
        }
    };
    let versions = from_store(state, state.warehouse.cell_versions(query, limit)).await?;
    if versions.len() > limit {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the cell has more than {limit} stored versions, too many to explain version by \
                 version; narrow it with from, to, force or offence_group"
            ),
        ));
    }
    let cell = Cell {
        from: query.from,
        to: query.to,
        forces: query.forces.clone(),
        offence_groups: query.offence_groups.clone(),
        cyber: query.cyber,
    };
    let steps: Vec<Value> = match view {
        View::Exact => revisions::history(&versions, &cell)
            .into_iter()
            .map(|s| {
                let exact = |n: u64| published_json(&Published::exact(n));
                json!({
                    "date": s.date,
                    "count": exact(s.count),
                    "new": exact(s.new),
                    "reclassified_in": exact(s.reclassified_in),
                    "reclassified_out": exact(s.reclassified_out),
                    "cancelled": exact(s.cancelled),
                    "transferred": exact(s.transferred),
                })
            })
            .collect(),
        View::Controlled { own } => {
            // The cell as at each month end, published like `/v1/stats?as_at=<month end>`;
            // a step only where the published figure changes, and no reasons.
            let key = key_of(&viewer)?;
            let mut last: Option<Published> = None;
            let mut steps = Vec::new();
            for (month_end, cells) in revisions::month_end_cells(&versions, &cell) {
                let total = grid::tabulate(&state.rule, &key, own, &[], &cells)
                    .total
                    .publish(&state.rule);
                if last != Some(total) {
                    steps.push(json!({
                        "date": month_end.to_string(),
                        "count": published_json(&total),
                    }));
                    last = Some(total);
                }
            }
            steps
        }
    };
    Ok(Json(json!({ "role": viewer.role.to_string(), "steps": steps })).into_response())
}

async fn alerts(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = answer_alerts(&state, &headers).await;
    let status = result
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::OK);
    observe("alerts", started, status);
    result
}

async fn answer_alerts(state: &ApiState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let viewer = authenticate(state, headers)?;
    let own = match viewer.role {
        Role::Public => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "alerts are for national and force roles",
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
            // Outside the viewer's exact scope an alert's weekly figures (observed, expected,
            // and the p-value they imply) are withheld: weeks are finer than the grid.
            let exact = own.is_none_or(|f| a.force() == f.as_str());
            json!({
                "alert_id": a.alert_id(),
                "kind": match a.kind() { AlertKind::Rise => "rise", AlertKind::DataQuality => "data-quality" },
                "force": a.force(),
                "offence_group": a.offence_group(),
                "method": a.method(),
                "opened_week": a.opened_week().to_string(),
                "week": n.week.to_string(),
                "withheld": !exact,
                "observed": if exact { published_json(&Published::exact(n.observed)) } else { Value::Null },
                "expected": if exact { n.expected } else { None },
                "p_value": if exact { n.p_value } else { None },
                "rank": n.rank,
            })
        })
        .collect();
    Ok(Json(json!({ "role": viewer.role.to_string(), "alerts": rows })).into_response())
}
